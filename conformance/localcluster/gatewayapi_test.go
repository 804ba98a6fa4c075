package localcluster_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"weir.dev/weir/conformance/localcluster"
)

// TestGatewayAPIBaseWorkload installs the Gateway API CRDs, applies the
// conformance suite's base manifests (the Gateways stay unprogrammed: no
// controller runs here), creates
// the TLS Secrets afterwards as the suite does, and checks every Pod becomes
// Ready and every HTTP and HTTPS echo-basic answers as itself.
func TestGatewayAPIBaseWorkload(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root (network and mount namespaces)")
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 20*time.Minute)
	bins, err := localcluster.BuildBinaries(bctx, t.Logf)
	bcancel()
	if err != nil {
		t.Fatal(err)
	}
	// The base manifests run one CoreDNS Pod that only UDPRoute tests use;
	// echo-basic ignores its arguments and stands in for it here.
	c := localcluster.Start(t, localcluster.Options{
		Binaries: &bins,
		Images:   []localcluster.ImageRule{{Contains: "coredns", Binary: bins.EchoBasic}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	installCRDs(ctx, t, c)
	t.Logf("Gateway API CRDs installed in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	raw, objs := baseManifests(ctx, t)
	if err := c.ApplyYAML(ctx, raw, "default"); err != nil {
		t.Fatalf("applying the base manifests: %v", err)
	}
	secrets := mountedSecrets(objs)
	time.Sleep(time.Second) // the kubelet must cope with Secrets that come late
	for _, s := range secrets {
		createTLSSecret(ctx, t, c.Client, s[0], s[1])
	}
	want := 0
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			want += replicas(d)
		}
	}
	var pods []corev1.Pod
	for _, ns := range []string{"gateway-conformance-infra", "gateway-conformance-app-backend", "gateway-conformance-web-backend"} {
		n := 0
		for _, o := range objs {
			if d, ok := o.(*appsv1.Deployment); ok && d.Namespace == ns {
				n += replicas(d)
			}
		}
		ready, err := c.WaitPodsReady(ctx, ns, "", n)
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, ready...)
	}
	t.Logf("%d Pods Ready %s after the manifests were applied", len(pods), time.Since(start).Round(time.Millisecond))
	if len(pods) != want {
		t.Errorf("want %d ready Pods, have %d", want, len(pods))
	}
	checkGatewayAddresses(ctx, t, c.Client)
	time.Sleep(2 * time.Second) // let a crashing container show itself
	for _, p := range pods {
		checkEchoPod(ctx, t, &p)
		got, err := c.Client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || got.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s/%s restarted (err %v); log:\n%s", p.Namespace, p.Name, err, readFile(c.PodLogPath(&p, p.Spec.Containers[0].Name)))
		}
	}
}

func moduleDir(ctx context.Context, t *testing.T, module string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("locating module %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

// installCRDs applies the standard channel's CRDs.
func installCRDs(ctx context.Context, t *testing.T, c *localcluster.Cluster) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(moduleDir(ctx, t, "sigs.k8s.io/gateway-api"), "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ApplyYAML(ctx, b, ""); err != nil {
			t.Fatalf("applying %s: %v", filepath.Base(f), err)
		}
	}
}

// baseManifests returns the suite's base manifests, raw and decoded (the
// Gateways, of kinds the client-go scheme does not know, are left out of the
// decoded list).
func baseManifests(ctx context.Context, t *testing.T) ([]byte, []runtime.Object) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleDir(ctx, t, "sigs.k8s.io/gateway-api/conformance"), "base", "manifests.yaml"))
	if err != nil {
		t.Fatalf("reading the base manifests: %v", err)
	}
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []runtime.Object
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return b, objs
		}
		if err != nil {
			t.Fatalf("splitting the base manifests: %v", err)
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			continue // Gateways
		}
		objs = append(objs, obj)
	}
}

// mountedSecrets returns the namespace and name of each Secret the
// Deployments mount; the suite creates them after the Deployments.
func mountedSecrets(objs []runtime.Object) [][2]string {
	var secrets [][2]string
	seen := map[[2]string]bool{}
	for _, o := range objs {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, vol := range d.Spec.Template.Spec.Volumes {
			key := [2]string{d.Namespace, ""}
			if vol.Secret != nil {
				key[1] = vol.Secret.SecretName
			}
			if key[1] != "" && !seen[key] {
				seen[key] = true
				secrets = append(secrets, key)
			}
		}
	}
	return secrets
}

func createTLSSecret(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	crt, key := selfSigned(t, "*.example.com")
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
	}
}

// checkEchoPod sends one request to an echo-basic Pod in the mode its env
// selects (HTTPS when it has a certificate); gRPC and TCP modes are skipped.
func checkEchoPod(ctx context.Context, t *testing.T, p *corev1.Pod) {
	t.Helper()
	ctr := p.Spec.Containers[0]
	if !strings.Contains(ctr.Image, "echo-basic") {
		return
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	if env["GRPC_ECHO_SERVER"] != "" || env["TCP_ECHO_SERVER"] != "" || env["UDP_ECHO_SERVER"] != "" {
		return
	}
	url := "http://" + p.Status.PodIP + ":3000/"
	if env["TLS_SERVER_CERT"] != "" {
		url = "https://" + p.Status.PodIP + ":8443/"
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test backend's self-signed cert
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("pod %s/%s: %v", p.Namespace, p.Name, err)
		return
	}
	defer resp.Body.Close()
	var got echoResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Pod != p.Name || got.Namespace != p.Namespace {
		t.Errorf("pod %s/%s at %s answered %+v (err %v)", p.Namespace, p.Name, url, got, err)
	}
}

// selfSigned returns a PEM certificate and key for host.
func selfSigned(t *testing.T, host string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func replicas(d *appsv1.Deployment) int {
	if d.Spec.Replicas == nil {
		return 1
	}
	return int(*d.Spec.Replicas)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// checkGatewayAddresses puts a LoadBalancer Service on port 80 in front of
// each of two backends, as an implementation does per Gateway, and checks
// each address reaches its own backend: HTTPRouteMultipleGateways needs two
// Gateways on one port with different addresses.
func checkGatewayAddresses(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	const ns = "gateway-conformance-infra"
	addrs := map[string]string{}
	for _, app := range []string{"infra-backend-v1", "infra-backend-v2"} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "lb-" + app, Namespace: ns},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: map[string]string{"app": app},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(3000)}},
			},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Service %s: %v", svc.Name, err)
		}
		addrs[app] = waitLBAddress(ctx, t, cs, ns, svc.Name)
	}
	if addrs["infra-backend-v1"] == addrs["infra-backend-v2"] {
		t.Fatalf("two LoadBalancer Services share the address %s", addrs["infra-backend-v1"])
	}
	for app, addr := range addrs {
		if pod := lbGet(ctx, t, addr+":80"); !strings.HasPrefix(pod, app+"-") {
			t.Errorf("%s:80 (Service lb-%s) answered as %q", addr, app, pod)
		}
	}
}
