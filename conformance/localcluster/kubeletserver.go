package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's HTTPS endpoint serves what kube-apiserver proxies to a
// kubelet; here only pods/log (GET /containerLogs/...), which the Gateway API
// mirror tests read with sinceTime. It listens on the bridge address and
// accepts only kube-apiserver's client certificate.

func (k *kubelet) serve(ctx context.Context) (*http.Server, error) {
	cert, err := tls.LoadX509KeyPair(k.l.path("kubelet.crt"), k.l.path("kubelet.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the kubelet serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(k.l.path("ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.handleLogs)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	addr := net.JoinHostPort(k.l.bridgeAddr.String(), strconv.Itoa(k.l.kubeletPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the kubelet API: %w", addr, err)
	}
	goSafe(k.logf, "kubelet server", func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.logf("kubelet: API server: %v", err)
		}
	})
	return srv, nil
}

func (k *kubelet) handleLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, ctr := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	path, ok := k.logPath(ns, pod, ctr)
	if !ok {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s not found", ctr, ns, pod), http.StatusNotFound)
		return
	}
	q, err := parseLogQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	out := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		out.f = f
	}
	if err := writeLogs(r.Context(), path, q, out); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
	}
}

// logPath finds a running Pod's container log by namespace and name.
func (k *kubelet) logPath(ns, name, container string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, w := range k.workers {
		pod, _ := w.snapshot()
		if pod.Namespace != ns || pod.Name != name {
			continue
		}
		for _, c := range pod.Spec.Containers {
			if c.Name == container {
				return tsLogPath(filepath.Join(w.dir, container+".log")), true
			}
		}
	}
	return "", false
}

func parseLogQuery(r *http.Request) (logQuery, error) {
	v := r.URL.Query()
	q := logQuery{tail: -1, follow: v.Get("follow") == "true", timestamps: v.Get("timestamps") == "true"}
	var err error
	if s := v.Get("tailLines"); s != "" {
		if q.tail, err = strconv.Atoi(s); err != nil {
			return q, fmt.Errorf("tailLines: %w", err)
		}
	}
	if s := v.Get("limitBytes"); s != "" {
		if q.limitBytes, err = strconv.ParseInt(s, 10, 64); err != nil {
			return q, fmt.Errorf("limitBytes: %w", err)
		}
	}
	if s := v.Get("sinceSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, fmt.Errorf("sinceSeconds: %w", err)
		}
		q.since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if s := v.Get("sinceTime"); s != "" {
		if q.since, err = time.Parse(time.RFC3339, s); err != nil {
			return q, fmt.Errorf("sinceTime: %w", err)
		}
	}
	return q, nil
}

type flushWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func (f *flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f *flushWriter) Flush() {
	if f.f != nil {
		f.f.Flush()
	}
}

// daemonEndpoints tells kube-apiserver where the kubelet API is.
func (k *kubelet) daemonEndpoints() corev1.NodeDaemonEndpoints {
	return corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.l.kubeletPort)}}
}
