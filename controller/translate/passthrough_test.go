package translate_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
)

// TestPassthroughGolden translates testdata/passthrough with
// --enable-ssl-passthrough and compares the passed-through hosts (with
// their backend and endpoints) and the problems with <case>.on.passthrough
// and <case>.on.problems. TestGolden covers the same inputs without the
// flag (the annotation is reported, nothing is passed through).
func TestPassthroughGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/passthrough/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			objs, err := manifests.Load(in)
			require.NoError(t, err)
			res := Translate(manifests.Inputs(objs, Options{SSLPassthrough: true}), 1)
			require.NotNil(t, res.Table)
			base := strings.TrimSuffix(in, ".in.yaml")
			compareGolden(t, base+".on.passthrough", dumpPassthrough(res))
			compareGolden(t, base+".on.problems", FormatProblems(res.Problems))

			off := Translate(manifests.Inputs(objs, Options{}), 1)
			require.Nil(t, off.Passthrough, "nothing is passed through without --enable-ssl-passthrough")
		})
	}
}

func dumpPassthrough(res *Result) string {
	hosts := make([]string, 0, len(res.Passthrough))
	for h := range res.Passthrough {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	var b strings.Builder
	for _, h := range hosts {
		be := res.Passthrough[h]
		var addrs []string
		for _, e := range res.Table.Endpoints(be) {
			addrs = append(addrs, e.Address)
		}
		fmt.Fprintf(&b, "%s -> %s [%s]\n", h, be.Name, strings.Join(addrs, " "))
	}
	return b.String()
}

// An endpoint-only refresh keeps the passthrough hosts, and their backend's
// endpoints are read from the refreshed table (what cmd/weir publishes).
func TestPassthroughFollowsEndpointRefresh(t *testing.T) {
	objs, err := manifests.Load("testdata/passthrough/hosts.in.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{SSLPassthrough: true})
	res := Translate(in, 1)
	for _, s := range in.EndpointSlices {
		if s.Name == "vault-abc" {
			s.Endpoints = s.Endpoints[1:] // 10.0.0.1 goes away
		}
	}
	next, ok := Refresh(res, in, map[string]bool{"default/vault": true}, 2)
	require.True(t, ok)
	require.Equal(t, "*.vault.example.com -> default/vault:443 [10.0.0.2:8443]\nvault.example.com -> default/vault:https [10.0.0.2:8443]\n",
		dumpPassthrough(next))
}
