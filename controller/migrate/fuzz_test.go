package migrate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"weir.dev/weir/controller/manifests"
)

// FuzzAnalyze feeds arbitrary YAML (seeded with the golden fixtures) through
// decoding, the analysis and both outputs: whatever a cluster holds, migrate
// answers without panicking.
func FuzzAnalyze(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := manifests.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		r := Analyze(FromObjects(objs), Options{})
		var out bytes.Buffer
		if err := r.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
	})
}
