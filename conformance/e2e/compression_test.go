package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/weirdeploy"
)

// TestCompression: the global ConfigMap's use-gzip and enable-brotli turn
// compression on for every Ingress without a restart. A client listing
// gzip (or br) in Accept-Encoding gets the response compressed, with Vary:
// Accept-Encoding, and one that lists neither gets it as the backend sent
// it; a response shorter than gzip-min-length, the answer to a Range
// request and a response the backend already encoded pass unchanged.
func TestCompression(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	files := newFiles(t)
	site := startOrigin(t, files.serve)
	site.service(t, ctx, ns, "site")
	host := "site." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "site", host, "site", nil))
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	encoding := func(base string) (echo, string, error) {
		resp, _, err := do(c, base, host, http.MethodGet, "/doc.json", http.Header{"Accept-Encoding": {"gzip"}}, "")
		if err != nil {
			return echo{}, "", err
		}
		return echo{Status: resp.StatusCode}, resp.Header.Get("Content-Encoding"), nil
	}
	waitEvery(t, host, "served uncompressed (use-gzip is off by default)", func(base string) (echo, bool, error) {
		e, ce, err := encoding(base)
		return e, err == nil && e.Status == http.StatusOK && ce == "", err
	})

	cms := env.cluster.Client.CoreV1().ConfigMaps(weirdeploy.Namespace)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: globalConfigMap, Namespace: weirdeploy.Namespace},
		Data: map[string]string{"use-gzip": "true", "gzip-min-length": "1024", "enable-brotli": "true", "brotli-min-length": "1024"}}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the ConfigMap: %v", err)
	}
	t.Cleanup(func() { _ = cms.Delete(ctxFor(t, 30*time.Second), globalConfigMap, metav1.DeleteOptions{}) })
	waitEvery(t, host, "gzip after use-gzip", func(base string) (echo, bool, error) {
		e, ce, err := encoding(base)
		return e, ce == "gzip", err
	})

	for _, base := range everyWeir() {
		files.check(t, c, base, host)
	}
}

// files is what the site serves: a JSON document of 8 KiB (doc.json, with
// Range support), one of 600 bytes, under the gzip-min-length of 1024
// (small.json), and the document already gzipped (encoded.json).
type files struct {
	doc, small, encoded []byte
}

func newFiles(t *testing.T) *files {
	var doc strings.Builder
	doc.WriteString(`{"items":[`)
	for i := 0; doc.Len() < 8<<10; i++ {
		fmt.Fprintf(&doc, `{"id":%d,"name":"item %d"},`, i, i)
	}
	doc.WriteString(`{}]}`)
	var enc bytes.Buffer
	zw := gzip.NewWriter(&enc)
	_, _ = zw.Write([]byte(doc.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return &files{doc: []byte(doc.String()), small: []byte(`{"note":"` + strings.Repeat("s", 600) + `"}`), encoded: enc.Bytes()}
}

func (f *files) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/doc.json":
		http.ServeContent(w, r, "doc.json", time.Time{}, bytes.NewReader(f.doc))
	case "/small.json":
		_, _ = w.Write(f.small)
	case "/encoded.json":
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(f.encoded)
	default:
		http.NotFound(w, r)
	}
}

// check asks base for each file the way browsers and tools do and checks
// the encoding and the bytes that arrive.
func (f *files) check(t *testing.T, c *http.Client, base, host string) {
	t.Helper()
	cases := []struct {
		what, path, acceptEncoding, rng string
		status                          int
		encoding                        string
		body                            []byte // the bytes on the wire; nil: gzip of doc, or not doc (br)
	}{
		{"gzip asked", "/doc.json", "gzip, deflate", "", 200, "gzip", nil},
		{"br preferred", "/doc.json", "gzip;q=0.8, br", "", 200, "br", nil},
		{"no Accept-Encoding", "/doc.json", "", "", 200, "", f.doc},
		{"gzip refused", "/doc.json", "gzip;q=0, identity", "", 200, "", f.doc},
		{"under gzip-min-length", "/small.json", "gzip", "", 200, "", f.small},
		{"under brotli-min-length", "/small.json", "br", "", 200, "", f.small},
		{"a range", "/doc.json", "gzip, br", "bytes=0-99", 206, "", f.doc[:100]},
		{"already encoded", "/encoded.json", "gzip, br", "", 200, "gzip", f.encoded},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.acceptEncoding != "" {
			h.Set("Accept-Encoding", tc.acceptEncoding)
		}
		if tc.rng != "" {
			h.Set("Range", tc.rng)
		}
		resp, body, err := do(c, base, host, http.MethodGet, tc.path, h, "")
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("via %s, %s: %v %v, want %d", base, tc.what, status(resp), err, tc.status)
			continue
		}
		if got := resp.Header.Values("Content-Encoding"); strings.Join(got, ",") != tc.encoding {
			t.Errorf("via %s, %s: Content-Encoding %q, want %q", base, tc.what, got, tc.encoding)
		}
		if tc.status == 200 && tc.path == "/doc.json" && !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
			t.Errorf("via %s, %s: Vary %q, want Accept-Encoding in it", base, tc.what, resp.Header.Values("Vary"))
		}
		if err := f.sameBody(tc.encoding, tc.body, body); err != nil {
			t.Errorf("via %s, %s: %v", base, tc.what, err)
		}
	}
}

// sameBody checks what arrived: want exactly, or (want nil) doc gzipped, or
// for brotli, which the test cannot decode, something smaller than doc.
func (f *files) sameBody(encoding string, want, got []byte) error {
	switch {
	case want != nil && !bytes.Equal(got, want):
		return fmt.Errorf("%d bytes arrived, not the %d the backend sent", len(got), len(want))
	case want != nil:
		return nil
	case encoding == "br" && len(got) >= len(f.doc)/2:
		return fmt.Errorf("%d bytes of br for the %d-byte document", len(got), len(f.doc))
	case encoding == "br":
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(got))
	if err != nil {
		return fmt.Errorf("not gzip: %w", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, f.doc) {
		return fmt.Errorf("gunzipped %d bytes (%v), not the %d-byte document", len(plain), err, len(f.doc))
	}
	return nil
}
