// Package manifests reads Kubernetes objects from YAML files: the offline
// mode's input, `weir translate`'s, and the golden tests'.
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
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

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
	dec := scheme.Codecs.UniversalDeserializer()
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
				out = append(out, o)
			}
			continue
		}
		out = append(out, obj)
	}
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

// Inputs sorts objects into translation inputs. Objects without a namespace
// get "default", as kubectl would give them.
func Inputs(objs []runtime.Object, opts translate.Options) *translate.Inputs {
	in := &translate.Inputs{Options: opts}
	for _, o := range objs {
		switch v := o.(type) {
		case *networkingv1.Ingress:
			defaultNamespace(&v.Namespace)
			in.Ingresses = append(in.Ingresses, v)
		case *networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, v)
		case *corev1.Service:
			defaultNamespace(&v.Namespace)
			in.Services = append(in.Services, v)
		case *discoveryv1.EndpointSlice:
			defaultNamespace(&v.Namespace)
			in.EndpointSlices = append(in.EndpointSlices, v)
		case *corev1.Secret:
			defaultNamespace(&v.Namespace)
			in.Secrets = append(in.Secrets, v)
		}
	}
	return in
}

func defaultNamespace(ns *string) {
	if *ns == "" {
		*ns = "default"
	}
}
