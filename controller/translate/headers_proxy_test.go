package translate_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/endpoint"
)

// headerRecorder is an HTTP server that keeps the headers of the last
// request it got.
type headerRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last http.Header
}

func newHeaderRecorder(t *testing.T, answer func(w http.ResponseWriter)) *headerRecorder {
	h := &headerRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.last = r.Header.Clone()
		h.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *headerRecorder) got() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// serviceAt is a Service whose one endpoint is the loopback server at
// url, with its EndpointSlice.
func serviceAt(t *testing.T, name, url string) (*corev1.Service, *discoveryv1.EndpointSlice) {
	_, port, err := net.SplitHostPort(url[strings.Index(url, "://")+3:])
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: "default",
		Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(p))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}}
	return svc, sl
}

// serveTranslation translates in and serves the table through Weir's proxy.
func serveTranslation(t *testing.T, in *translate.Inputs) (*httptest.Server, *translate.Result) {
	res := translate.Translate(in, 1)
	require.NotNil(t, res.Table, "problems: %v", res.Problems)
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	srv := proxy.New(proxy.Options{}, reg, nil, nil)
	t.Cleanup(srv.Close)
	srv.Publish(res.Table)
	front := httptest.NewServer(srv)
	t.Cleanup(front.Close)
	return front, res
}

func get(t *testing.T, front *httptest.Server, host, path string) *http.Response {
	req, err := http.NewRequest(http.MethodGet, front.URL+path, nil)
	require.NoError(t, err)
	req.Host = host
	req.Header.Set("X-Tenant", "client-chosen")
	resp, err := front.Client().Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// The headers of every headers ConfigMap really arrive: auth-proxy-set-headers
// at the auth service, proxy-set-headers at the backend, add-headers and
// custom-headers at the client.
func TestHeaderConfigMapsThroughTheProxy(t *testing.T) {
	authSrv := newHeaderRecorder(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
	backend := newHeaderRecorder(t, func(w http.ResponseWriter) {
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("X-Served-By", "backend")
		io.WriteString(w, "hello")
	})
	svc, sl := serviceAt(t, "app", backend.srv.URL)
	cm := func(name string, data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: data}
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default", Annotations: map[string]string{
			"nginx.ingress.kubernetes.io/auth-url":               authSrv.srv.URL + "/check",
			"nginx.ingress.kubernetes.io/auth-proxy-set-headers": "auth-headers",
			"nginx.ingress.kubernetes.io/custom-headers":         "frame",
		}},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), Rules: []networkingv1.IngressRule{{Host: "app.test",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "app",
					Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}}}},
	}
	in := &translate.Inputs{
		Ingresses:      []*networkingv1.Ingress{ing},
		IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"}, Spec: networkingv1.IngressClassSpec{Controller: translate.DefaultControllerClass}}},
		Services:       []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{sl},
		HeaderConfigMaps: []*corev1.ConfigMap{
			cm("auth-headers", map[string]string{"X-Tenant": "blue", "X-Forwarded-Uri": "$request_uri", "Cookie": ""}),
			cm("frame", map[string]string{"X-Frame-Options": "DENY"}),
			cm("resp", map[string]string{"X-Served-By": "weir", "X-Frame-Options": "ALLOWALL"}),
			cm("req", map[string]string{"X-Env": "prod", "X-Tenant": "from-config"}),
		},
		Options: translate.Options{AddHeaders: "default/resp", ProxySetHeaders: "default/req", AllowedResponseHeaders: []string{"X-Frame-Options"}},
	}
	front, res := serveTranslation(t, in)
	require.Empty(t, res.Problems)

	req, err := http.NewRequest(http.MethodGet, front.URL+"/p?q=1", nil)
	require.NoError(t, err)
	req.Host = "app.test"
	req.Header.Set("X-Tenant", "client-chosen")
	req.Header.Set("Cookie", "session=1")
	resp, err := front.Client().Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	a := authSrv.got()
	assert.Equal(t, "blue", a.Get("X-Tenant"), "the ConfigMap's value replaces the client's")
	assert.Equal(t, "/p?q=1", a.Get("X-Forwarded-Uri"), "$request_uri is expanded per request")
	assert.Empty(t, a.Get("Cookie"), "an empty value removes the header")
	assert.Equal(t, "http://app.test/p?q=1", a.Get("X-Original-Url"), "Weir's facts stay")

	b := backend.got()
	assert.Equal(t, "prod", b.Get("X-Env"))
	assert.Equal(t, "from-config", b.Get("X-Tenant"))
	assert.Equal(t, "session=1", b.Get("Cookie"), "auth-proxy-set-headers touches only the subrequest")

	assert.Equal(t, "weir", resp.Header.Get("X-Served-By"), "add-headers replaces the backend's")
	assert.Equal(t, []string{"DENY"}, resp.Header.Values("X-Frame-Options"), "custom-headers wins over add-headers and the backend")

	// A header ConfigMap gone wrong closes the paths, never opens them.
	in.HeaderConfigMaps[0] = cm("auth-headers", map[string]string{"X-Tenant": "a\r\nX-Admin: yes"})
	front, res = serveTranslation(t, in)
	require.NotEmpty(t, res.Problems)
	assert.Equal(t, http.StatusServiceUnavailable, get(t, front, "app.test", "/").StatusCode)
}

// A request no rule matches goes to --default-backend-service; with the
// global custom-http-errors listing its status, the client gets the
// default backend's error page (asked with X-Code), as from
// ingress-nginx's default server.
func TestGlobalCustomHTTPErrorsOnTheDefaultBackendThroughTheProxy(t *testing.T) {
	pages := newHeaderRecorder(t, nil)
	pages.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := r.Header.Get("X-Code"); code != "" {
			io.WriteString(w, "custom page for "+code+" of "+r.Header.Get("X-Original-URI"))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "plain 404"+r.Header.Get("X-Env"))
	})
	svc, sl := serviceAt(t, "errors", pages.srv.URL)
	in := &translate.Inputs{Services: []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{sl},
		Options: translate.Options{DefaultBackendService: "default/errors", CustomHTTPErrors: []int{404}}}
	ask := func() (int, string) {
		front, _ := serveTranslation(t, in)
		req, err := http.NewRequest(http.MethodGet, front.URL+"/missing?x=1", nil)
		require.NoError(t, err)
		req.Host = "unknown.test"
		resp, err := front.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := ask()
	assert.Equal(t, http.StatusNotFound, code, "the original status")
	assert.Equal(t, "custom page for 404 of /missing?x=1", body)

	in.Options.CustomHTTPErrors = nil
	code, body = ask()
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "plain 404", body, "without the list the default backend's own answer")

	in.HeaderConfigMaps = []*corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: "default"}, Data: map[string]string{"X-Env": " env=prod"}}}
	in.Options.ProxySetHeaders = "default/req"
	_, body = ask()
	assert.Equal(t, "plain 404env=prod", body, "the global proxy-set-headers reach the default backend too")
}
