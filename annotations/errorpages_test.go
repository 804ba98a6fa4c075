package annotations

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHTTPErrorCodes(t *testing.T) {
	for in, want := range map[string][]int{"404": {404}, " 503 , 404,404,,": {404, 503}, "300,599": {300, 599}} {
		got, err := ParseHTTPErrorCodes(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", ",", "299", "600", "200", "40x", "+404", "0404", "404 500", "-404", "99999999999999999999"} {
		_, err := ParseHTTPErrorCodes(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestParseMirrorTarget(t *testing.T) {
	for in, want := range map[string]MirrorTarget{
		"https://m.example.com$request_uri":   {HTTPS: true, Host: "m.example.com", Port: 443, URI: "$request_uri"},
		"http://10.0.0.1:8080/copy":           {Host: "10.0.0.1", Port: 8080, URI: "/copy"},
		"http://[::1]/x$request_uri?a=b":      {Host: "::1", Port: 80, URI: "/x$request_uri?a=b"},
		"HTTP://m.example":                    {Host: "m.example", Port: 80},
		"http://mirror.ns.svc.cluster.local/": {Host: "mirror.ns.svc.cluster.local", Port: 80, URI: "/"},
	} {
		got, err := ParseMirrorTarget(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, *got, in)
	}
	for _, in := range []string{"", "m.example.com", "ftp://m.example", "http://", "http://u:p@m.example/", "http://m.example/#f",
		"http://m.example/$host", "http://m.example:0/", "http://m.example:70000/", "http://m.example//evil", "http://m example/",
		"http://m.example/\r\nX: y", "http://$request_uri", "http:///x", "http://:80/", "mailto:a@b"} {
		_, err := ParseMirrorTarget(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestErrorPagesAndMirrorAnnotations(t *testing.T) {
	c, ps := Parse(map[string]string{Prefix + "custom-http-errors": "502,404", Prefix + "default-backend": "errors",
		Prefix + "mirror-target": "http://m.example$request_uri", Prefix + "mirror-request-body": "off"})
	require.Empty(t, ps)
	assert.Equal(t, &ErrorPages{Codes: []int{404, 502}, DefaultBackend: "errors"}, c.ErrorPages)
	assert.Equal(t, &Mirror{Target: &MirrorTarget{Host: "m.example", Port: 80, URI: "$request_uri"}}, c.Mirror)

	c, ps = Parse(map[string]string{Prefix + "custom-http-errors": "404,700"})
	assert.True(t, c.DropIngress, "an invalid list drops the Ingress, as ingress-nginx")
	require.Len(t, ps, 1)
	assert.Equal(t, Error, ps[0].Severity)

	c, ps = Parse(map[string]string{Prefix + "mirror-target": "http://m.example", Prefix + "mirror-host": "a\nb"})
	require.Len(t, ps, 1)
	assert.Equal(t, "", c.Mirror.Host, "an invalid host is ignored")
	assert.True(t, c.Mirror.Body, "mirror-request-body defaults to on")
}

// FuzzParseHTTPErrorCodes checks that every accepted list holds only
// sorted, unique statuses from 300 to 599.
func FuzzParseHTTPErrorCodes(f *testing.F) {
	for _, s := range []string{"404,503", " 500 ,, 502", "299", "4o4", "599,300,599"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		codes, err := ParseHTTPErrorCodes(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, codes)
		for i, c := range codes {
			require.True(t, c >= 300 && c <= 599, "%d", c)
			require.True(t, i == 0 || codes[i-1] < c, "sorted and unique: %v", codes)
		}
	})
}

// FuzzParseMirrorTarget checks that an accepted target dials a valid
// host and port and, once $request_uri is replaced, gives a request target
// a head may carry.
func FuzzParseMirrorTarget(f *testing.F) {
	for _, s := range []string{"https://m.example$request_uri", "http://[::1]:81/a?b", "http://x/$request_uri$request_uri", "http://x$request_urix", "http://x:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMirrorTarget(s)
		if err != nil {
			return
		}
		require.True(t, m.Port >= 1 && m.Port <= 65535)
		require.True(t, validHost(m.Host) || strings.Contains(m.Host, ":"), "host %q", m.Host)
		uri := strings.ReplaceAll(m.URI, requestURIVar, "/p?q")
		if uri != "" {
			require.True(t, visibleASCII(uri) && uri[0] == '/', "uri %q", uri)
			_, err := url.ParseRequestURI(uri)
			require.NoError(t, err, "uri %q", uri)
		}
	})
}
