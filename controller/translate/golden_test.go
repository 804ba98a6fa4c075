package translate_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
)

var update = flag.Bool("update", false, "rewrite the golden .table and .problems files")

// TestGolden translates every testdata/<feature>/<case>.in.yaml and compares
// the table dump and the problems with <case>.table and <case>.problems.
// go test ./controller/translate -update rewrites them; review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		name := strings.TrimSuffix(strings.TrimPrefix(in, "testdata/"), ".in.yaml")
		if strings.HasPrefix(name, "gateway-") {
			continue // TestGatewayGolden
		}
		t.Run(name, func(t *testing.T) {
			objs, err := manifests.Load(in)
			require.NoError(t, err)
			res := Translate(manifests.Inputs(objs, Options{}), 1)
			require.NotNil(t, res.Table, "problems: %v", res.Problems)
			base := strings.TrimSuffix(in, ".in.yaml")
			compareGolden(t, base+".table", res.Table.Dump())
			compareGolden(t, base+".problems", FormatProblems(res.Problems))
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./controller/translate -update")
	if string(want) != got {
		t.Errorf("%s differs (run with -update and review the diff):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestFormatProblems(t *testing.T) {
	got := FormatProblems([]Problem{{Object: ObjectRef{"Ingress", "ns", "a"}, Field: "spec", Reason: "R", Message: "m", Severity: Warning}})
	require.Equal(t, "Warning Ingress ns/a spec: R: m\n", got)
	require.Equal(t, "", FormatProblems(nil))
}
