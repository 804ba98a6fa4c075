package tls

import (
	"crypto/tls"
	"net"
	"testing"
)

// BenchmarkHandshake measures full and resumed server handshakes over an
// in-memory pipe with ServerConfig, so the figures exclude the network.
func BenchmarkHandshake(b *testing.B) {
	ca := newTestCA(b)
	for _, bc := range []struct {
		name    string
		kind    keyKind
		version uint16
		resume  bool
	}{
		{"ecdsa-tls13", keyECDSA, tls.VersionTLS13, false},
		{"rsa2048-tls13", keyRSA, tls.VersionTLS13, false},
		{"ecdsa-tls12", keyECDSA, tls.VersionTLS12, false},
		{"ecdsa-tls13-resumed", keyECDSA, tls.VersionTLS13, true},
		{"ecdsa-tls12-resumed", keyECDSA, tls.VersionTLS12, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			snap, err := NewSnapshot(ca.parsed(b, leafSpec{names: []string{testHost}, kind: bc.kind}), nil)
			if err != nil {
				b.Fatal(err)
			}
			keys, err := NewTicketKeys(0)
			if err != nil {
				b.Fatal(err)
			}
			srvCfg := ServerConfig(NewStore(snap), Options{TicketKeys: keys})
			cliCfg := clientConfig(ca, testHost)
			cliCfg.MaxVersion = bc.version
			if bc.resume {
				cliCfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				pipeHandshake(b, srvCfg, cliCfg) // prime the cache
			}
			b.ReportAllocs()
			for b.Loop() {
				if resumed := pipeHandshake(b, srvCfg, cliCfg); resumed != bc.resume {
					b.Fatalf("resumed = %v", resumed)
				}
			}
		})
	}
}

func pipeHandshake(b *testing.B, srvCfg, cliCfg *tls.Config) bool {
	c1, c2 := net.Pipe()
	srv := tls.Server(c1, srvCfg)
	errc := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err == nil {
			// Deliver the TLS 1.3 ticket, which follows the handshake.
			_, err = srv.Write([]byte{1})
		}
		errc <- err
	}()
	cli := tls.Client(c2, cliCfg)
	if err := cli.Handshake(); err != nil {
		b.Fatal(err)
	}
	if _, err := cli.Read(make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	resumed := cli.ConnectionState().DidResume
	// Close the pipe, not the TLS conns: close_notify on a synchronous pipe
	// nobody reads would wait for tls.Conn.Close's five-second timeout.
	_ = c1.Close()
	_ = c2.Close()
	return resumed
}
