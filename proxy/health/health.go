// Package health runs active health checks: one goroutine per endpoint that
// sends HTTP GETs on an interval and reports when the endpoint crosses its
// rise or fall threshold. It knows nothing of tables or balancers; the
// endpoint registry starts and stops checkers and applies their verdicts.
package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/table"
)

// Defaults for fields of table.HealthCheck left zero.
const (
	DefaultInterval = 5 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// Spec is a check with defaults applied.
type Spec struct {
	Path     string
	Port     int
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	TLS      bool
}

// SpecFor applies the defaults to a backend's check for its protocol.
func SpecFor(h table.HealthCheck, p table.Protocol) Spec {
	s := Spec{Path: h.Path, Port: h.Port, Interval: h.Interval, Timeout: h.Timeout, Rise: h.Rise, Fall: h.Fall,
		TLS: p == table.HTTPS || p == table.GRPCS}
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Rise <= 0 {
		s.Rise = DefaultRise
	}
	if s.Fall <= 0 {
		s.Fall = DefaultFall
	}
	return s
}

// Checker checks one endpoint until stopped.
type Checker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start checks address by spec and calls report(healthy) on every
// transition. The endpoint starts healthy (a new table serves at once; an
// endpoint that is down is taken out after Fall failures).
func Start(address string, spec Spec, report func(healthy bool), log *zap.Logger) *Checker {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{cancel: cancel, done: make(chan struct{})}
	go c.run(ctx, address, spec, report, log)
	return c
}

// Stop ends the checks and waits for the goroutine to finish.
func (c *Checker) Stop() {
	c.cancel()
	<-c.done
}

func (c *Checker) run(ctx context.Context, address string, spec Spec, report func(bool), log *zap.Logger) {
	defer close(c.done)
	defer func() {
		if v := recover(); v != nil {
			log.Error("health checker panicked", zap.String("endpoint", address), zap.Any("panic", v))
		}
	}()
	client := newClient(spec)
	defer client.CloseIdleConnections()
	url := checkURL(address, spec)
	healthy, streak := true, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(spec.Interval)):
		}
		ok := probe(ctx, client, url, spec.Timeout)
		if ctx.Err() != nil {
			return
		}
		if ok == healthy {
			streak = 0
			continue
		}
		streak++
		if (ok && streak >= spec.Rise) || (!ok && streak >= spec.Fall) {
			healthy, streak = ok, 0
			log.Info("endpoint health changed", zap.String("endpoint", address), zap.Bool("healthy", healthy))
			report(healthy)
		}
	}
}

// jitter spreads checks by ±10 % so endpoints shared by many backends are
// not probed in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

func newClient(spec Spec) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:       (&net.Dialer{Timeout: spec.Timeout}).DialContext,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // checks liveness, not identity
			DisableKeepAlives: true,
		},
		Timeout: spec.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func checkURL(address string, spec Spec) string {
	host := address
	if spec.Port != 0 {
		if h, _, err := net.SplitHostPort(address); err == nil {
			host = net.JoinHostPort(h, strconv.Itoa(spec.Port))
		}
	}
	scheme := "http"
	if spec.TLS {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s%s", scheme, host, spec.Path)
}

// probe sends one GET; 2xx and 3xx are healthy.
func probe(ctx context.Context, client *http.Client, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "weir-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}
