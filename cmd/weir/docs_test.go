package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
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
