package migrate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/controller/globalconfig"
)

// configMapFindings answers each key of ingress-nginx's ConfigMap from the
// registry Weir's --configmap reads (controller/globalconfig), so the two
// never disagree.
func configMapFindings(data map[string]string) []Finding {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Finding, 0, len(keys))
	for _, k := range keys {
		out = append(out, configMapFinding(k, data[k]))
	}
	return out
}

// ConfigMapKeys lists the ingress-nginx ConfigMap keys Weir has an answer
// for, sorted.
func ConfigMapKeys() []string {
	var out []string
	for _, k := range globalconfig.Keys() {
		out = append(out, k.Name)
	}
	return out
}

func configMapFinding(key, value string) Finding {
	k, ok := globalconfig.Lookup(key)
	if !ok {
		return Finding{Key: key, Status: NotHonoured, Detail: "unknown to Weir: the value is ignored (Weir reports the key on the ConfigMap)"}
	}
	err := k.Check(value)
	switch {
	case k.Scope == globalconfig.ScopeNoOp:
		return Finding{Key: key, Status: NoOp, Detail: k.Weir}
	case err != nil && k.Live():
		return Finding{Key: key, Status: NotHonoured, Detail: fmt.Sprintf("%v: Weir reports it on the ConfigMap and keeps the default (the key: %s)", err, k.Weir)}
	case err != nil:
		return Finding{Key: key, Status: NotHonoured, Detail: k.Weir}
	case !k.Live():
		return Finding{Key: key, Status: Honoured, Detail: "Weir's behaviour is the same"}
	}
	return Finding{Key: key, Status: Honoured, Detail: "with --configmap: " + k.Weir}
}

// configMapNames are the names ingress-nginx's ConfigMap has in its Helm
// chart (with the release name before it) and its static manifests.
var configMapNames = []string{"ingress-nginx-controller", "nginx-configuration"}

// selectConfigMaps picks ingress-nginx's ConfigMap: the one named by
// namespace/name, else those with its usual names or its chart's labels.
func selectConfigMaps(cms []*corev1.ConfigMap, named string) []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, cm := range cms {
		if isNginxConfigMap(cm, named) {
			out = append(out, cm)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

func isNginxConfigMap(cm *corev1.ConfigMap, named string) bool {
	if named != "" {
		return cm.Namespace+"/"+cm.Name == named
	}
	l := cm.Labels
	// The chart labels its tcp/udp-services ConfigMaps the same way.
	if l["app.kubernetes.io/name"] == "ingress-nginx" && l["app.kubernetes.io/component"] == "controller" &&
		strings.HasSuffix(cm.Name, "-controller") {
		return true
	}
	for _, n := range configMapNames {
		if cm.Name == n || strings.HasSuffix(cm.Name, "-"+n) {
			return true
		}
	}
	return false
}
