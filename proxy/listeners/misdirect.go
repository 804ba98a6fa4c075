package listeners

import (
	"net"
	"net/http"
	"strings"
)

// misdirected answers 421 Misdirected Request when a request on an HTTPS
// listener port names, in its Host, a host that a different listener of
// that port serves than the listener the connection's SNI chose. Clients
// reuse one HTTP/2 connection for every host its certificate covers
// (RFC 9113 section 9.1.1), so without this a request for a listener with
// other routes, other client-certificate rules or another certificate would
// be served under the wrong listener. A client that gets 421 retries on a
// new connection with the right SNI (RFC 9110 section 15.5.20).
//
// Requests without SNI (a client that dialled an IP address) are not
// checked: the connection was chosen by address only.
type misdirected struct {
	next  http.Handler
	certs *sniStore
}

func (m misdirected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS != nil && r.TLS.ServerName != "" {
		x := m.certs.cur.Load()
		_, bySNI := x.listener(r.TLS.ServerName)
		byHost := bySNI
		if host := hostOf(r.Host); host != "" {
			_, byHost = x.listener(host)
		}
		if byHost != bySNI {
			http.Error(w, "misdirected request: this connection's server name belongs to another listener; open a new connection for this host", http.StatusMisdirectedRequest)
			return
		}
	}
	m.next.ServeHTTP(w, r)
}

// hostOf is the host of a Host header, without port.
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
