package globalconfig

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryKey keeps docs/configmap.md's table complete.
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configmap.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(doc), "| `"+k.Name+"` |") {
			t.Errorf("docs/configmap.md has no row for %s", k.Name)
		}
	}
}
