package tls

import (
	"crypto/tls"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type storeFixture struct {
	def, exact, wild, deep, apex *Certificate
	snap                         *Snapshot
}

func newStoreFixture(t testing.TB) *storeFixture {
	t.Helper()
	ca := newTestCA(t)
	f := &storeFixture{
		def:   ca.parsed(t, leafSpec{names: []string{"default.local"}}),
		exact: ca.parsed(t, leafSpec{names: []string{"www.example.com"}}),
		wild:  ca.parsed(t, leafSpec{names: []string{"*.example.com"}}),
		deep:  ca.parsed(t, leafSpec{names: []string{"*.b.example.com"}}),
		apex:  ca.parsed(t, leafSpec{names: []string{"example.org"}}),
	}
	snap, err := NewSnapshot(f.def, map[string]*Certificate{
		"www.example.com": f.exact,
		"*.example.com":   f.wild,
		"*.B.example.com": f.deep,
		"Example.org.":    f.apex,
	})
	require.NoError(t, err)
	f.snap = snap
	return f
}

func TestGetCertificateSNI(t *testing.T) {
	f := newStoreFixture(t)
	store := NewStore(f.snap)
	tests := []struct {
		name string
		sni  string
		want *Certificate
	}{
		{"exact", "www.example.com", f.exact},
		{"exact beats wildcard", "www.example.com", f.exact},
		{"wildcard one label", "a.example.com", f.wild},
		{"wildcard not two labels", "a.c.example.com", f.def},
		{"deeper wildcard", "x.b.example.com", f.deep},
		{"wildcard not apex", "example.com", f.def},
		{"exact apex", "example.org", f.apex},
		{"unknown host", "www.example.net", f.def},
		{"no SNI", "", f.def},
		{"upper case exact", "WWW.Example.COM", f.exact},
		{"upper case wildcard", "A.EXAMPLE.COM", f.wild},
		{"upper case no wildcard two labels", "A.C.EXAMPLE.COM", f.def},
		{"trailing dot", "www.example.com.", f.exact},
		{"trailing dot wildcard", "a.example.com.", f.wild},
		{"only a dot", ".", f.def},
		{"leading dot is not a label", ".example.com", f.def},
		{"empty first label upper", ".EXAMPLE.COM", f.def},
		{"dot at end after trim", "a..", f.def},
		{"too long", string(make([]byte, 300)), f.def},
		{"wildcard label itself", "*.example.com", f.wild},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
			require.NoError(t, err)
			assert.Same(t, tt.want.TLSCertificate(), got)
		})
	}
}

func TestSnapshotRejectsBadHosts(t *testing.T) {
	def := newTestCA(t).parsed(t, leafSpec{names: []string{"d"}})
	for _, host := range []string{"", ".", "*.", "*", "a.*.com", "*.*.example.com", "a..b", "*example.com", "host:443", "[::1]", "bücher.example"} {
		t.Run(host, func(t *testing.T) {
			_, err := NewSnapshot(def, map[string]*Certificate{host: def})
			assert.Error(t, err)
		})
	}
	_, err := NewSnapshot(nil, nil)
	assert.Error(t, err, "a snapshot needs a default")
	_, err = NewSnapshot(def, map[string]*Certificate{"a.example.com": nil})
	assert.Error(t, err)
}

func TestBuilderSkipsOnlyBadHosts(t *testing.T) {
	f := newStoreFixture(t)
	b := NewBuilder(f.def)
	require.NoError(t, b.Add("good.example.com", f.exact))
	require.Error(t, b.Add("bad..example.com", f.wild))
	snap, err := b.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, 1, snap.Len())
	assert.Same(t, f.exact, snap.Lookup("good.example.com"))
}

func TestStoreBeforeFirstSnapshot(t *testing.T) {
	var s Store
	_, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "a"})
	assert.Error(t, err)
}

func TestStoreSwap(t *testing.T) {
	f := newStoreFixture(t)
	store := NewStore(f.snap)
	next, err := NewSnapshot(f.apex, nil)
	require.NoError(t, err)

	assert.Same(t, f.snap, store.Swap(next))
	assert.Same(t, next, store.Load())
	assert.Same(t, next, store.Swap(nil), "nil never replaces a good snapshot")
	assert.Same(t, next, store.Load())
}

func TestExpiries(t *testing.T) {
	f := newStoreFixture(t)
	got := f.snap.Expiries()
	hosts := make([]string, len(got))
	for i, e := range got {
		hosts[i] = e.Host
	}
	assert.Equal(t, []string{"*.b.example.com", "*.example.com", "example.org", "www.example.com"}, hosts)
	assert.Equal(t, f.wild.NotAfter(), got[1].NotAfter)
	assert.WithinDuration(t, time.Now().Add(24*time.Hour), got[0].NotAfter, time.Minute)
	assert.Same(t, f.def, f.snap.Default())
}

func TestLookupDoesNotAllocate(t *testing.T) {
	f := newStoreFixture(t)
	store := NewStore(f.snap)
	for _, sni := range []string{"www.example.com", "a.example.com", "nothing.example.net", "", "WWW.EXAMPLE.COM", "A.Example.Com"} {
		hello := &tls.ClientHelloInfo{ServerName: sni}
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = store.GetCertificate(hello)
		})
		assert.Zero(t, allocs, "GetCertificate(%q) allocates", sni)
	}
}

func BenchmarkGetCertificate(b *testing.B) {
	f := newStoreFixture(b)
	// A realistic table: a thousand exact hosts and a hundred wildcards.
	bld := NewBuilder(f.def)
	for i := range 1000 {
		_ = bld.Add(benchHost(i, "example.net"), f.exact)
	}
	for i := range 100 {
		_ = bld.Add("*."+benchHost(i, "example.io"), f.wild)
	}
	snap, err := bld.Snapshot()
	require.NoError(b, err)
	store := NewStore(snap)
	cases := []struct{ name, sni string }{
		{"exact", benchHost(500, "example.net")},
		{"wildcard", "a." + benchHost(50, "example.io")},
		{"default", "unknown.example.org"},
		{"no-sni", ""},
		{"exact-uppercase", "HOST-500.EXAMPLE.NET"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			hello := &tls.ClientHelloInfo{ServerName: c.sni}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := store.GetCertificate(hello); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchHost(i int, domain string) string {
	return "host-" + strconv.Itoa(i) + "." + domain
}

func TestStoreConcurrentSwap(t *testing.T) {
	f := newStoreFixture(t)
	other, err := NewSnapshot(f.apex, map[string]*Certificate{"www.example.com": f.wild})
	require.NoError(t, err)
	store := NewStore(f.snap)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				store.Swap(other)
			} else {
				store.Swap(f.snap)
			}
		}
	}()
	hello := &tls.ClientHelloInfo{ServerName: "www.example.com"}
	for range 10000 {
		got, err := store.GetCertificate(hello)
		require.NoError(t, err)
		if got != f.exact.TLSCertificate() && got != f.wild.TLSCertificate() {
			t.Fatal("GetCertificate returned a certificate from neither snapshot")
		}
	}
	close(stop)
	<-done
}
