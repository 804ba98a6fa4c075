// Package manifests reads Kubernetes objects from YAML files: the offline
// mode's input, `weir translate`'s, and the golden tests'. Besides
// client-go's kinds it reads the Gateway API's (v1, and v1beta1 converted
// to v1).
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"weir.dev/weir/controller/translate"
)

// Load reads every object in a YAML file, or in the .yaml, .yml and .json
// files of a directory (not recursive), in file-name order. Documents of
// kinds Weir does not read are skipped; a document that does not decode is
// an error naming the file and document.
func Load(path string) ([]runtime.Object, error) {
	files, err := files(path)
	if err != nil {
		return nil, err
	}
	var out []runtime.Object
	for _, f := range files {
		objs, err := loadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func files(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	var out []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func loadFile(path string) ([]runtime.Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	defer f.Close()
	objs, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// Decode reads multi-document YAML (or JSON) into typed objects. List kinds
// are flattened.
func Decode(r io.Reader) ([]runtime.Object, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	dec := decoder
	var out []runtime.Object
	for n := 1; ; n++ {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || isComment(doc) {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			if runtime.IsNotRegisteredError(err) {
				continue // a kind Weir does not read
			}
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if l, ok := obj.(*corev1.List); ok {
			for _, item := range l.Items {
				o, _, err := dec.Decode(item.Raw, nil, nil)
				if err != nil {
					return nil, fmt.Errorf("document %d: list item: %w", n, err)
				}
				out = append(out, toV1(o))
			}
			continue
		}
		out = append(out, toV1(obj))
	}
}

// decoder knows client-go's kinds and the Gateway API's.
var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("building the manifest scheme: %v", err)) // programming error, caught by every test
		}
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// toV1 converts the Gateway API's v1beta1 objects to v1 (same layout).
func toV1(obj runtime.Object) runtime.Object {
	switch v := obj.(type) {
	case *gatewayv1beta1.GatewayClass:
		return (*gatewayv1.GatewayClass)(v)
	case *gatewayv1beta1.Gateway:
		return (*gatewayv1.Gateway)(v)
	case *gatewayv1beta1.HTTPRoute:
		return (*gatewayv1.HTTPRoute)(v)
	case *gatewayv1beta1.ReferenceGrant:
		return (*gatewayv1.ReferenceGrant)(v)
	}
	return obj
}

func isComment(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// Normalize prepares decoded objects as an API server would hold them:
// namespaced objects without a namespace get "default", as kubectl would
// give them, and every namespace they use that the files do not declare
// is added as a Namespace with its kubernetes.io/metadata.name label (a
// cluster has them all; listeners' allowedRoutes select them by label).
func Normalize(objs []runtime.Object) []runtime.Object {
	declared := make(map[string]bool)
	used := make(map[string]bool)
	for _, o := range objs {
		m, ok := o.(metav1.Object)
		if !ok {
			continue
		}
		switch o.(type) {
		case *corev1.Namespace:
			declared[m.GetName()] = true
		case *networkingv1.IngressClass, *gatewayv1.GatewayClass:
		default:
			if m.GetNamespace() == "" {
				m.SetNamespace("default")
			}
			used[m.GetNamespace()] = true
		}
	}
	names := make([]string, 0, len(used))
	for ns := range used {
		if !declared[ns] {
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	for _, ns := range names {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{corev1.LabelMetadataName: ns}}})
	}
	return objs
}

// Inputs sorts objects into translation inputs (after Normalize).
func Inputs(objs []runtime.Object, opts translate.Options) *translate.Inputs {
	in := &translate.Inputs{Options: opts}
	for _, o := range Normalize(objs) {
		switch v := o.(type) {
		case *networkingv1.Ingress:
			in.Ingresses = append(in.Ingresses, v)
		case *networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, v)
		case *corev1.Service:
			in.Services = append(in.Services, v)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, v)
		case *corev1.Secret:
			in.Secrets = append(in.Secrets, v)
		case *corev1.Namespace:
			in.Namespaces = append(in.Namespaces, v)
		case *corev1.ConfigMap:
			in.HeaderConfigMaps = append(in.HeaderConfigMaps, v)
		case *gatewayv1.GatewayClass:
			in.GatewayClasses = append(in.GatewayClasses, v)
		case *gatewayv1.Gateway:
			in.Gateways = append(in.Gateways, v)
		case *gatewayv1.HTTPRoute:
			in.HTTPRoutes = append(in.HTTPRoutes, v)
		case *gatewayv1.GRPCRoute:
			in.GRPCRoutes = append(in.GRPCRoutes, v)
		case *gatewayv1.ReferenceGrant:
			in.ReferenceGrants = append(in.ReferenceGrants, v)
		}
	}
	return in
}
