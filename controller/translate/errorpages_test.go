package translate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/compress"
	"weir.dev/weir/proxy/table"
)

// routeOf returns the table route of host and path.
func routeOf(t *testing.T, res *Result, host, path string) *table.Route {
	t.Helper()
	require.NotNil(t, res.Table, "problems: %v", res.Problems)
	for _, r := range res.Table.Routes() {
		if r.Host == host && r.Path.Value == path {
			return r
		}
	}
	t.Fatalf("no route %s%s", host, path)
	return nil
}

// TestGlobalErrorPagesAndCompression: the global custom-http-errors use
// --default-backend-service on every Ingress without its own list; an
// Ingress's own list and default-backend win; the compression policy
// reaches every Ingress path; without global settings nothing is set.
func TestGlobalErrorPagesAndCompression(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := &Inputs{IngressClasses: sampleInputs(0, 0).IngressClasses}
	in.Ingresses = append(in.Ingresses,
		sampleIngress("a", "plain", "plain.example.com", "web", nil, t0),
		sampleIngress("a", "own", "own.example.com", "web", map[string]string{
			annotations.Prefix + "custom-http-errors": "404", annotations.Prefix + "default-backend": "pages"}, t0.Add(time.Second)))
	for _, s := range [][2]string{{"a", "web"}, {"a", "pages"}, {"errors", "global"}} {
		in.Services = append(in.Services, sampleService(s[0], s[1]))
		in.EndpointSlices = append(in.EndpointSlices, sampleSlice(s[0], s[1], len(in.Services), 1))
	}

	res := Translate(in, 1)
	plain := routeOf(t, res, "plain.example.com", "/")
	assert.Nil(t, plain.Action.ErrorPages, "no global list, no annotation")
	assert.Nil(t, plain.Action.Compression)

	in.Options = Options{DefaultBackendService: "errors/global", CustomHTTPErrors: []int{502, 503},
		Compression: compress.Defaults()}
	res = Translate(in, 2)
	plain = routeOf(t, res, "plain.example.com", "/")
	require.NotNil(t, plain.Action.ErrorPages)
	assert.Equal(t, "errors/global:80", plain.Action.ErrorPages.Backend.Name)
	assert.Equal(t, []int{502, 503}, plain.Action.ErrorPages.Codes)
	assert.False(t, plain.Action.ErrorPages.Unavailable, "only the default-backend annotation takes unavailable paths")
	assert.NotNil(t, plain.Action.Compression)

	own := routeOf(t, res, "own.example.com", "/api")
	require.NotNil(t, own.Action.ErrorPages)
	assert.Equal(t, "a/pages:80", own.Action.ErrorPages.Backend.Name)
	assert.Equal(t, []int{404}, own.Action.ErrorPages.Codes)
	assert.True(t, own.Action.ErrorPages.Unavailable)
	assert.Same(t, plain.Action.Compression, own.Action.Compression, "one policy per translation")
	def := res.Table.Default()
	require.NotNil(t, def, "--default-backend-service answers what no rule matches")
	require.NotNil(t, def.ErrorPages, "the global custom-http-errors apply to the default action too")
	assert.Equal(t, []int{502, 503}, def.ErrorPages.Codes)
	assert.Same(t, def.Split.Main, def.ErrorPages.Backend, "the default backend serves its own error pages")

	in.Options.Compression.GzipLevel = 12
	res = Translate(in, 3)
	assert.Nil(t, routeOf(t, res, "plain.example.com", "/").Action.Compression, "invalid settings compress nothing")
	assert.Contains(t, FormatProblems(res.Problems), "InvalidCompression")
}
