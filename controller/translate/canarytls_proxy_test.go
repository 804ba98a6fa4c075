package translate_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/controller/translate"
)

func tlsServer(t *testing.T, body string) *httptest.Server {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }))
	t.Cleanup(s.Close)
	return s
}

func ingressTo(name, svc string, ann map[string]string) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, len(name), 0, time.UTC))},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), Rules: []networkingv1.IngressRule{{Host: "app.test",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc,
					Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}}}}}
}

func otherCA(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the backend's CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A canary backend is reached with the main Ingress's proxy-ssl-*: its
// certificate is verified against the main's ca.crt (502 when it does not
// verify), never sent unverified.
func TestCanaryBackendTLSIsVerifiedThroughTheProxy(t *testing.T) {
	main, canary := tlsServer(t, "main"), tlsServer(t, "canary")
	backendCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: canary.Certificate().Raw})
	mainSvc, mainSlice := serviceAt(t, "app", main.URL)
	canarySvc, canarySlice := serviceAt(t, "app-canary", canary.URL)
	inputs := func(ca []byte) *translate.Inputs {
		return &translate.Inputs{
			Ingresses: []*networkingv1.Ingress{
				ingressTo("app", "app", map[string]string{"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS",
					"nginx.ingress.kubernetes.io/proxy-ssl-secret": "ca", "nginx.ingress.kubernetes.io/proxy-ssl-verify": "on",
					"nginx.ingress.kubernetes.io/proxy-ssl-name": "example.com"}),
				ingressTo("app-canary", "app-canary", map[string]string{"nginx.ingress.kubernetes.io/canary": "true",
					"nginx.ingress.kubernetes.io/canary-weight": "100", "nginx.ingress.kubernetes.io/proxy-ssl-verify": "off"}),
			},
			IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"}, Spec: networkingv1.IngressClassSpec{Controller: translate.DefaultControllerClass}}},
			Services:       []*corev1.Service{mainSvc, canarySvc},
			EndpointSlices: []*discoveryv1.EndpointSlice{mainSlice, canarySlice},
			Secrets:        []*corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: "default"}, Data: map[string][]byte{"ca.crt": ca}}},
		}
	}

	front, res := serveTranslation(t, inputs(backendCA))
	require.Empty(t, res.Problems)
	resp := get(t, front, "app.test", "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the canary's certificate verifies against the main's ca.crt")

	front, _ = serveTranslation(t, inputs(otherCA(t)))
	resp = get(t, front, "app.test", "/")
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "a canary whose certificate does not verify gets no request")
}
