package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/migrate"
)

// TestMigrationGuideNamesRealFlags keeps the flag mapping of
// docs/migrating-from-ingress-nginx.md true: every Weir flag it names exists.
func TestMigrationGuideNamesRealFlags(t *testing.T) {
	doc, err := os.ReadFile("../../docs/migrating-from-ingress-nginx.md")
	if err != nil {
		t.Fatal(err)
	}
	flagRE := regexp.MustCompile("`--([a-z0-9-]+)")
	names := flagNames()
	checked := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		// The Weir column: the second cell of a mapping row.
		for _, m := range flagRE.FindAllStringSubmatch(cells[2], -1) {
			checked++
			if !slices.Contains(names, m[1]) {
				t.Errorf("docs/migrating-from-ingress-nginx.md names --%s, which weir does not have", m[1])
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d flags found in the guide's tables", checked)
	}
}

// TestMigrateNamesRealFlags: every flag `weir migrate` advises for a
// ConfigMap key exists.
func TestMigrateNamesRealFlags(t *testing.T) {
	data := map[string]string{}
	for _, k := range migrate.ConfigMapKeys() {
		data[k] = "a value Weir's defaults do not match"
	}
	r := migrate.Analyze(migrate.Input{ConfigMaps: []*corev1.ConfigMap{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}, Data: data}}}, migrate.Options{})
	require.Len(t, r.ConfigMaps, 1)
	flagRE := regexp.MustCompile(`--([a-z0-9-]+)`)
	names := flagNames()
	checked := 0
	for _, f := range r.ConfigMaps[0].Findings {
		for _, m := range flagRE.FindAllStringSubmatch(f.Detail, -1) {
			checked++
			if !slices.Contains(names, m[1]) {
				t.Errorf("weir migrate advises --%s for %s, which weir does not have", m[1], f.Key)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d flags found in the ConfigMap answers", checked)
	}
}
