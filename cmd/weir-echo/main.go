// Command weir-echo is a tiny HTTP backend for Weir's offline demo and
// benchmarks: it answers every request with a line naming itself and what it
// received.
//
//	weir-echo -listen 127.0.0.1:9001 -name v1
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	name := flag.String("name", "echo", "name reported in every answer")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", *name)
		json.NewEncoder(w).Encode(map[string]any{
			"backend": *name, "method": r.Method, "host": r.Host, "path": r.URL.RequestURI(),
			"proto": r.Proto, "headers": r.Header,
		})
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
