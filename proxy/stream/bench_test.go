package stream

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
)

// BenchmarkReadHello is the cost the passthrough listener adds to each
// connection while a host is passed through: reading one ClientHello from
// crypto/tls (about 1.8 KiB with its post-quantum key share).
func BenchmarkReadHello(b *testing.B) {
	hello := clientHello(b, &tls.Config{ServerName: "bench.example.com", InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	b.SetBytes(int64(len(hello)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ReadHello(bytes.NewReader(hello), MaxHello); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTLSHandshake is the reference for BenchmarkReadHello: one whole
// crypto/tls handshake (client and server, ECDSA P-256) over net.Pipe,
// which every terminated connection pays anyway.
func BenchmarkTLSHandshake(b *testing.B) {
	srvCfg := &tls.Config{Certificates: []tls.Certificate{certFor(b, "bench")}}
	cliCfg := &tls.Config{ServerName: "bench.example.com", InsecureSkipVerify: true}
	b.ReportAllocs()
	for b.Loop() {
		c, s := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- tls.Server(s, srvCfg).Handshake() }()
		if err := tls.Client(c, cliCfg).Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		c.Close()
		s.Close()
	}
}
