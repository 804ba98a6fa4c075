package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"weir.dev/weir/controller/migrate"
	"weir.dev/weir/controller/translate"
)

// migrateCommand is `weir migrate`: what a cluster running ingress-nginx
// keeps and loses on Weir, per Ingress, annotation and ConfigMap key, and
// the change that moves it. It only reads (from the cluster, or from
// `kubectl get -A ingress,ingressclass,configmap -o yaml` output). Exit 0
// when everything is honoured, 1 when something is not, 2 on errors.
func migrateCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var paths files
	fs.Var(&paths, "f", "kubectl get -A ingress,ingressclass,configmap -o yaml output (file, directory, or - for standard input; repeatable)")
	fs.Var(&paths, "manifests", "same as -f")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to read (default: $KUBECONFIG or ~/.kube/config, as kubectl)")
	class := fs.String("class", migrate.DefaultClass, "ingress-nginx's class: ingressClassName or kubernetes.io/ingress.class value")
	configMap := fs.String("configmap", "", "ingress-nginx's ConfigMap as namespace/name (default: found by its usual names and labels)")
	weirClass := fs.String("weir-class", "", "IngressClass to move to (default: the cluster's IngressClass of Weir's controller, else weir)")
	ctrl := fs.String("controller-class", translate.DefaultControllerClass, "Weir's IngressClass controller")
	format := fs.String("o", "text", "output: text or json")
	if err := fs.Parse(args); err != nil {
		return lintUnreadable
	}
	if fs.NArg() > 0 || (*format != "text" && *format != "json") || (len(paths) > 0 && *kubeconfig != "") {
		fmt.Fprintln(stderr, "usage: weir migrate [--kubeconfig PATH | -f PATH...] [--class nginx] [--configmap NS/NAME] [-o text|json]")
		return lintUnreadable
	}
	in, err := migrateInput(paths, *kubeconfig, *configMap, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "weir migrate: %v\n", err)
		return lintUnreadable
	}
	r := migrate.Analyze(in, migrate.Options{Class: *class, ConfigMap: *configMap, WeirClass: *weirClass, ControllerClass: *ctrl})
	if *format == "json" {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "weir migrate: %v\n", err)
		return lintUnreadable
	}
	if r.NotHonouredCount() > 0 {
		return lintProblems
	}
	return lintClean
}

func migrateInput(paths []string, kubeconfig, configMap string, stdin io.Reader) (migrate.Input, error) {
	if len(paths) > 0 {
		objs, err := loadFiles(paths, stdin)
		if err != nil {
			return migrate.Input{}, err
		}
		return migrate.FromObjects(objs), nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return migrate.Input{}, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	rc.UserAgent = "weir-migrate"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return migrate.Input{}, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return readCluster(ctx, client, configMap)
}

// readCluster lists what migrate reads. It only lists and gets: migrate
// never writes to the cluster.
func readCluster(ctx context.Context, c kubernetes.Interface, configMap string) (migrate.Input, error) {
	var in migrate.Input
	ings, err := c.NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return in, fmt.Errorf("listing Ingresses: %w", err)
	}
	for i := range ings.Items {
		in.Ingresses = append(in.Ingresses, &ings.Items[i])
	}
	classes, err := c.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return in, fmt.Errorf("listing IngressClasses: %w", err)
	}
	for i := range classes.Items {
		in.IngressClasses = append(in.IngressClasses, &classes.Items[i])
	}
	in.ConfigMaps, err = nginxConfigMaps(ctx, c, configMap)
	return in, err
}

// nginxConfigMaps fetches ingress-nginx's ConfigMap candidates without
// listing every ConfigMap of the cluster: the named one, or those with the
// chart's labels or the usual names (migrate picks among them).
func nginxConfigMaps(ctx context.Context, c kubernetes.Interface, named string) ([]*corev1.ConfigMap, error) {
	if named != "" {
		ns, name, ok := splitRef(named)
		if !ok {
			return nil, fmt.Errorf("--configmap %q is not namespace/name", named)
		}
		cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading ConfigMap %s: %w", named, err)
		}
		return []*corev1.ConfigMap{cm}, nil
	}
	selectors := []metav1.ListOptions{
		{LabelSelector: "app.kubernetes.io/name=ingress-nginx"},
		{FieldSelector: "metadata.name=ingress-nginx-controller"},
		{FieldSelector: "metadata.name=nginx-configuration"},
	}
	seen := map[string]bool{}
	var out []*corev1.ConfigMap
	for _, sel := range selectors {
		list, err := c.CoreV1().ConfigMaps("").List(ctx, sel)
		if err != nil {
			return nil, fmt.Errorf("listing ConfigMaps: %w", err)
		}
		for i := range list.Items {
			cm := &list.Items[i]
			if k := cm.Namespace + "/" + cm.Name; !seen[k] {
				seen[k] = true
				out = append(out, cm)
			}
		}
	}
	return out, nil
}

func splitRef(s string) (string, string, bool) {
	ns, name, ok := strings.Cut(s, "/")
	return ns, name, ok && ns != "" && name != ""
}
