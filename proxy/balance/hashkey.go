package balance

import (
	"net/http"

	"weir.dev/weir/proxy/table"
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashKey hashes the request's key (ingress-nginx upstream-hash-by) with
// FNV-1a, part by part, without building the key string.
func hashKey(r *http.Request, clientIP string, parts []table.KeyPart) uint64 {
	h := uint64(fnvOffset)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= fnvPrime
		}
	}
	for _, p := range parts {
		switch p.Kind {
		case table.KeyLiteral:
			add(p.Name)
		case table.KeyRequestURI:
			add(r.RequestURI)
		case table.KeyURI:
			add(r.URL.Path)
		case table.KeyRemoteAddr:
			add(clientIP)
		case table.KeyHost:
			add(r.Host)
		case table.KeyHeader:
			if vs := r.Header.Values(p.Name); len(vs) > 0 {
				add(vs[0])
			}
		case table.KeyCookie:
			v, _ := table.CookieValue(r, p.Name)
			add(v)
		case table.KeyArg:
			add(r.URL.Query().Get(p.Name))
		}
	}
	return h
}
