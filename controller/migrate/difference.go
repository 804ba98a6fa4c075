package migrate

import (
	"fmt"
	"strconv"
	"strings"

	"weir.dev/weir/annotations"
)

// difference is a documented way an implemented annotation behaves
// otherwise in Weir. applies returns "" when the value and the Ingresses
// around it make the difference invisible.
type difference struct {
	link    string
	applies func(value string, s *subject) string
}

// differences are the cases of docs/differences.md (and the annotations
// whose Weir behaviour docs/annotations.md states) that depend on one
// annotation.
var differences = map[string]difference{
	"canary":              {differencesDoc, canaryScope},
	"canary-weight-total": {differencesDoc, weightTotal},
	"canary-by-header":    {differencesDoc, underscoreHeader},
	"use-regex":           {differencesDoc, regexHost},
	"rewrite-target":      {differencesDoc, regexHost},
	"ssl-passthrough": {differencesDoc, func(v string, _ *subject) string {
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil || !b {
			return ""
		}
		return "start Weir with --enable-ssl-passthrough (as ingress-nginx); connections go to the Service's endpoints, not its ClusterIP, and a canary of the host gets none"
	}},
	"affinity-mode": {annotationsDoc, func(v string, _ *subject) string {
		if strings.TrimSpace(v) == "persistent" {
			return ""
		}
		return "Weir keeps a client on its endpoint while that endpoint is available, as ingress-nginx's persistent mode does; balanced mode does not move clients when endpoints are added"
	}},
}

// canaryScope: ingress-nginx splits every route of the main Service, Weir
// only the paired host and path.
func canaryScope(v string, s *subject) string {
	if !s.canary {
		return ""
	}
	paired := map[string]bool{}
	services := map[string]bool{}
	for _, r := range s.pairs.mainRoutes[ref(s.ing)] {
		paired[r.key()] = true
		if r.service != "" {
			services[r.service] = true
		}
	}
	var also []string
	for _, ing := range s.nginx {
		if isCanary(ing) {
			continue
		}
		for _, r := range routes(ing) {
			if services[r.service] && !paired[r.key()] {
				also = append(also, r.host+r.path)
			}
		}
	}
	if len(also) == 0 {
		return ""
	}
	return fmt.Sprintf("the canary splits only the host and path it pairs with; ingress-nginx also splits %s, which route to the same Service", strings.Join(also, ", "))
}

func weightTotal(v string, s *subject) string {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n >= 100 {
		return ""
	}
	w, _ := strconv.Atoi(strings.TrimSpace(s.ing.Annotations[annotations.Prefix+"canary-weight"]))
	return fmt.Sprintf("the weight counts out of %d as documented (%d of %d); ingress-nginx counts out of 100 whenever the total is 100 or less", n, w, n)
}

func underscoreHeader(v string, _ *subject) string {
	if !strings.Contains(v, "_") {
		return ""
	}
	return "the header name has an underscore: nginx drops such headers, so this rule never matched in ingress-nginx; in Weir it matches"
}

// regexHost: on a host with regex paths, ingress-nginx turns every path of
// the host into a regex; Weir keeps other Ingresses' Exact and Prefix paths.
func regexHost(v string, s *subject) string {
	if strings.TrimSpace(v) == "false" || v == "" {
		return ""
	}
	hosts := map[string]bool{}
	for _, r := range routes(s.ing) {
		hosts[r.host] = true
	}
	var plain []string
	for _, ing := range s.nginx {
		if ing == s.ing || isCanary(ing) || usesRegex(ing.Annotations) {
			continue
		}
		var paths []string
		for _, r := range routes(ing) {
			if hosts[r.host] {
				paths = append(paths, r.host+r.path)
			}
		}
		if len(paths) > 0 {
			plain = append(plain, ref(ing)+" ("+strings.Join(paths, ", ")+")")
		}
	}
	if len(plain) == 0 {
		return ""
	}
	return fmt.Sprintf("on this host the Exact and Prefix paths of %s keep their Kubernetes meaning; ingress-nginx matches them as case-insensitive regular expressions", strings.Join(plain, ", "))
}

func usesRegex(ann map[string]string) bool {
	b, _ := strconv.ParseBool(ann[annotations.Prefix+"use-regex"])
	return b || ann[annotations.Prefix+"rewrite-target"] != ""
}
