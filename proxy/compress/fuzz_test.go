package compress

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseAcceptEncoding checks that every q-value read is within [0, 1]
// and that the writer only ever answers with an encoding the header
// allowed.
func FuzzParseAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "br;q=0.5, gzip;q=0.6", "*;q=0", "x-gzip;Q=1.000", "gzip;q=", ";;,,q=1", "br;level=1;q=0.9"} {
		f.Add(s)
	}
	c := Defaults()
	c.Brotli = true
	p, err := New(c)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAcceptEncoding([]string{s})
		require.True(t, a.Gzip >= 0 && a.Gzip <= 1 && a.Brotli >= 0 && a.Brotli <= 1, "%+v", a)
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Accept-Encoding"] = []string{s}
		rec := httptest.NewRecorder()
		cw := p.Wrap(rec, req)
		cw.Header().Set("Content-Type", "text/plain")
		cw.Header().Set("Content-Length", "1000")
		cw.WriteHeader(http.StatusOK)
		_, _ = cw.Write(make([]byte, 1000))
		require.NoError(t, cw.Close(false))
		switch rec.Header().Get("Content-Encoding") {
		case "gzip":
			require.Positive(t, a.Gzip)
		case "br":
			require.Positive(t, a.Brotli)
			require.GreaterOrEqual(t, a.Brotli, a.Gzip)
		case "":
			require.False(t, a.Gzip > 0 || a.Brotli > 0, "%+v accepted, nothing used", a)
		default:
			t.Fatalf("unexpected encoding %q", rec.Header().Get("Content-Encoding"))
		}
	})
}
