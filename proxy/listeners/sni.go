package listeners

import (
	"crypto/tls"
	"errors"
	"sort"
	"strings"
	"sync/atomic"

	weirtls "weir.dev/weir/tls"
)

// sniIndex chooses a Gateway listener's certificate by SNI with the
// Gateway API's hostname semantics: an exact name first, then the longest
// wildcard, where "*.example.com" matches any number of labels
// ("a.b.example.com") but not "example.com"; else the certificate of the
// listener without hostname, or none (the handshake fails). Ingress keeps
// the tls package's one-label wildcard.
type sniIndex struct {
	exact map[string]*weirtls.Certificate
	wild  []wildcard // longest suffix first
	def   *weirtls.Certificate
	// clientAuth, when set, is the whole TLS configuration of handshakes on
	// this listener: it asks for client certificates.
	clientAuth *tls.Config
}

type wildcard struct {
	suffix string // ".example.com"
	cert   *weirtls.Certificate
}

func newSNIIndex(certs map[string]*weirtls.Certificate, def *weirtls.Certificate) *sniIndex {
	x := &sniIndex{exact: make(map[string]*weirtls.Certificate, len(certs)), def: def}
	for host, c := range certs {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if rest, ok := strings.CutPrefix(host, "*"); ok {
			x.wild = append(x.wild, wildcard{suffix: rest, cert: c})
			continue
		}
		x.exact[host] = c
	}
	sort.Slice(x.wild, func(i, j int) bool {
		a, b := x.wild[i].suffix, x.wild[j].suffix
		return len(a) > len(b) || (len(a) == len(b) && a < b)
	})
	return x
}

func (x *sniIndex) lookup(serverName string) *weirtls.Certificate {
	c, _ := x.listener(serverName)
	return c
}

// listener returns the certificate for name and the hostname of the
// listener it belongs to: the exact name, "*<suffix>" for a wildcard, ""
// for the listener without hostname (c nil: none serves name).
func (x *sniIndex) listener(name string) (c *weirtls.Certificate, hostname string) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name != "" {
		if c := x.exact[name]; c != nil {
			return c, name
		}
		for _, w := range x.wild {
			if len(name) > len(w.suffix) && strings.HasSuffix(name, w.suffix) {
				return w.cert, "*" + w.suffix
			}
		}
	}
	return x.def, ""
}

var errNoCertificate = errors.New("weir: no certificate for this server name on this listener")

// sniStore publishes a listener's index to handshakes: one atomic load, no
// lock.
type sniStore struct{ cur atomic.Pointer[sniIndex] }

func (s *sniStore) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cur.Load().lookup(hello.ServerName); c != nil {
		return c.TLSCertificate(), nil
	}
	return nil, errNoCertificate
}

// configForClient is the listener's GetConfigForClient: the client
// certificate settings when the listener has them, else the base settings.
func (s *sniStore) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	if c := s.cur.Load().clientAuth; c != nil {
		return c, nil
	}
	return nil, nil
}
