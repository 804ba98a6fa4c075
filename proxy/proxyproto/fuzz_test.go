package proxyproto

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzRead: no panic, and a header that parses names a valid source (or
// none) and consumed no more bytes than a header can have.
func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2TCP4("198.51.100.9", "10.0.0.1", 40000, 443))
	f.Add(v2(0, 0, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := bytes.NewReader(in)
		r := bufio.NewReaderSize(rd, 256)
		h, err := Read(r)
		if err != nil {
			return
		}
		if consumed := len(in) - rd.Len() - r.Buffered(); consumed > 16+v2MaxLen {
			t.Fatalf("consumed %d bytes", consumed)
		}
		if h.Source.IsValid() && h.Source.Addr().Zone() != "" {
			t.Fatalf("source with a zone: %v", h.Source)
		}
		if h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d", h.Version)
		}
	})
}
