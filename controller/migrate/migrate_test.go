package migrate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/manifests"
)

var update = flag.Bool("update", false, "rewrite the golden reports")

func load(t *testing.T, path string) Input {
	t.Helper()
	objs, err := manifests.Load(path)
	require.NoError(t, err)
	return FromObjects(objs)
}

// TestGolden runs every testdata/<case>.yaml and compares the table report
// with <case>.txt (and, where it exists, the JSON report with <case>.json).
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	for _, in := range cases {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			r := Analyze(load(t, in), Options{})
			var text bytes.Buffer
			require.NoError(t, r.WriteText(&text))
			golden(t, strings.TrimSuffix(in, ".yaml")+".txt", text.Bytes(), true)
			var js bytes.Buffer
			require.NoError(t, r.WriteJSON(&js))
			golden(t, strings.TrimSuffix(in, ".yaml")+".json", js.Bytes(), name == "canary")
		})
	}
}

// golden compares got with the file; -update rewrites it (only when always
// is set or the file exists).
func golden(t *testing.T, path string, got []byte, always bool) {
	t.Helper()
	want, err := os.ReadFile(path)
	if *update && (always || err == nil) {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	if os.IsNotExist(err) && !always {
		return
	}
	require.NoError(t, err, "run go test ./controller/migrate -update")
	assert.Equal(t, string(want), string(got), "%s differs; review and run go test ./controller/migrate -update", path)
}
