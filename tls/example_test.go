package tls_test

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"time"

	weirtls "weir.dev/weir/tls"
)

// Example wires the package the way cmd/weir does: a default certificate, a
// store the controller swaps and rotating ticket keys. (The HTTP/2 limits
// are the http.Server's, set by proxy.NewHTTPServer.)
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	def, err := weirtls.SelfSigned(time.Now())
	if err != nil {
		log.Fatal(err)
	}
	// The controller builds a snapshot per rebuild from the Secrets it
	// parsed with ParseKeyPair; hosts whose Secret failed are left out.
	b := weirtls.NewBuilder(def)
	_ = b.Add("ingress.local", def)
	snap, err := b.Snapshot()
	if err != nil {
		log.Fatal(err)
	}
	store := weirtls.NewStore(snap)

	keys, err := weirtls.NewTicketKeys(weirtls.DefaultTicketRotation)
	if err != nil {
		log.Fatal(err)
	}
	go keys.Run(ctx, func(err error) { log.Print(err) })

	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		_ = srv.Serve(tls.NewListener(ln, weirtls.ServerConfig(store, weirtls.Options{TicketKeys: keys})))
	}()
	_ = srv.Shutdown(ctx)
}
