package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"weir.dev/weir/conformance/weirdeploy"
)

// tcpServicesConfigMap is the ConfigMap every Weir replica watches for TCP
// services (--tcp-services-configmap, setup_test.go); it does not exist
// until TestTCPServices makes it.
const tcpServicesConfigMap = "weir-tcp"

// TestSSLPassthrough: with --enable-ssl-passthrough (setup_test.go), an
// Ingress annotated ssl-passthrough gets its TLS connections on Weir's
// HTTPS port spliced to an echo server that terminates TLS itself with its
// own certificate: the client sees that certificate and the echo Pod's
// answer, through the Service's load-balancer address.
func TestSSLPassthrough(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := ns + ".pass.example.com"
	certPEM, keyPEM, leaf := selfSigned(t, host)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	if _, err := env.cluster.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := weirdeploy.Echo(ns, "vault", "vault", "v1", 1)
	pod := &d.Spec.Template.Spec
	pod.Volumes = []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "vault-tls", Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "crt"}, {Key: "tls.key", Path: "key"}}}}}}
	ctr := &pod.Containers[0]
	ctr.VolumeMounts = []corev1.VolumeMount{{Name: "certs", MountPath: "/etc/certs", ReadOnly: true}}
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "TLS_SERVER_CERT", Value: "/etc/certs/crt"},
		corev1.EnvVar{Name: "TLS_SERVER_PRIVKEY", Value: "/etc/certs/key"})
	ctr.Ports = append(ctr.Ports, corev1.ContainerPort{Name: "https", ContainerPort: 8443})
	createDeployment(t, ctx, d)
	svc := service(ns, "vault", map[string]string{"app": "vault"})
	svc.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}
	createService(t, ctx, svc)
	waitEndpoints(t, ctx, ns, "vault", 1)
	ing := ingress(ns, "vault", host, "vault", map[string]string{"nginx.ingress.kubernetes.io/ssl-passthrough": "true"})
	ing.Spec.Rules[0].HTTP.Paths[0].Backend = backend("vault", 443)
	createIngress(t, ctx, ing)

	addr := net.JoinHostPort(env.address, "443")
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		cert, e, err := passthroughGet(ctx, addr, host)
		switch {
		case err != nil:
			last = err.Error()
		case !bytes.Equal(cert.Raw, leaf.Raw):
			last = "certificate " + cert.Subject.CommonName + ", not the backend's"
		case !strings.HasPrefix(e.Pod, "vault-") || e.Namespace != ns:
			last = fmt.Sprintf("answered by %s/%s", e.Namespace, e.Pod)
		default:
			t.Logf("TLS for %s passed through to %s with the backend's certificate", host, e.Pod)
			cert, _, err = passthroughGet(ctx, addr, "other."+host)
			if err == nil && bytes.Equal(cert.Raw, leaf.Raw) {
				t.Errorf("another host on the same port got the passthrough backend's certificate")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS to %s was not passed through within 60 s: %s", host, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// passthroughGet connects to addr with SNI host (any certificate) and
// returns the server's certificate and its echo of GET /.
func passthroughGet(ctx context.Context, addr, host string) (*x509.Certificate, echo, error) {
	var e echo
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config: &tls.Config{ServerName: host, InsecureSkipVerify: true}} //nolint:gosec // the test compares the certificate itself
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, e, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	cert := c.(*tls.Conn).ConnectionState().PeerCertificates[0]
	e, err = rawGet(c, host)
	return cert, e, err
}

// rawGet writes GET / on c and reads the echo server's JSON answer.
func rawGet(c net.Conn, host string) (echo, error) {
	var e echo
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		return e, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return e, err
	}
	defer resp.Body.Close()
	e.Status = resp.StatusCode
	err = json.NewDecoder(resp.Body).Decode(&e)
	return e, err
}

// TestTCPServices: the TCP services ConfigMap, created while Weir runs
// (ingress-nginx's format), opens a port on every replica that splices
// connections to the Service's endpoints; an invalid entry is a Warning
// Event on the ConfigMap and the valid one is served regardless.
func TestTCPServices(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "db", 1)
	servicesConfigMap(t, ctx, tcpServicesConfigMap, map[string]string{"9100": ns + "/db:80", "9101": ns + "/db"})
	for i := range env.weirs {
		waitTCPService(t, ctx, &env.weirs[i], "9100", ns)
	}
	waitEventOn(t, "ConfigMap", weirdeploy.Namespace, tcpServicesConfigMap, "InvalidTCPService")
}

// servicesConfigMap creates the TCP or UDP services ConfigMap name holding
// data, deleted when the test ends.
func servicesConfigMap(t *testing.T, ctx context.Context, name string, data map[string]string) {
	t.Helper()
	cms := env.cluster.Client.CoreV1().ConfigMaps(weirdeploy.Namespace)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: weirdeploy.Namespace}, Data: data}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the ConfigMap: %v", err)
	}
	t.Cleanup(func() { _ = cms.Delete(ctxFor(t, 30*time.Second), name, metav1.DeleteOptions{}) })
}

// waitTCPService waits until port of the Weir Pod weir splices to service
// db of namespace ns (echo Pods).
func waitTCPService(t *testing.T, ctx context.Context, weir *corev1.Pod, port, ns string) {
	t.Helper()
	addr := net.JoinHostPort(weir.Status.PodIP, port)
	var last string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		e, err := tcpGet(ctx, addr)
		if err == nil && strings.HasPrefix(e.Pod, "db-") && e.Namespace == ns {
			return
		}
		last = fmt.Sprintf("%+v %v", e, err)
		if time.Now().After(deadline) {
			t.Fatalf("port %s of %s was not proxied to %s/db within 2 minutes: %s", port, weir.Name, ns, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tcpGet(ctx context.Context, addr string) (echo, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return echo{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return rawGet(c, "tcp.example.test")
}

// udpServicesConfigMap is TestUDPServices's ConfigMap
// (--udp-services-configmap, setup_test.go).
const udpServicesConfigMap = "weir-udp"

// TestUDPServices: the UDP services ConfigMap, created while Weir runs,
// opens a UDP port on every replica that relays a datagram to a UDP echo
// Pod and its answer back.
func TestUDPServices(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	d := weirdeploy.Echo(ns, "dns", "dns", "v1", 1)
	ctr := &d.Spec.Template.Spec.Containers[0]
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "UDP_ECHO_SERVER", Value: "1"}, corev1.EnvVar{Name: "UDP_PORT", Value: "8053"})
	ctr.Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 8053, Protocol: corev1.ProtocolUDP}}
	ctr.ReadinessProbe = nil // no HTTP in UDP mode
	createDeployment(t, ctx, d)
	svc := service(ns, "dns", map[string]string{"app": "dns"})
	svc.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(8053)}}
	createService(t, ctx, svc)
	waitEndpoints(t, ctx, ns, "dns", 1)
	servicesConfigMap(t, ctx, udpServicesConfigMap, map[string]string{"9153": ns + "/dns:53"})

	for i := range env.weirs {
		addr := net.JoinHostPort(env.weirs[i].Status.PodIP, "9153")
		var last string
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, err := udpExchange(addr, "ping "+env.weirs[i].Name)
			if err == nil && strings.Contains(got, `"request":"ping `+env.weirs[i].Name+`"`) && strings.Contains(got, `"namespace":"`+ns+`"`) {
				break
			}
			last = fmt.Sprintf("%q %v", got, err)
			if time.Now().After(deadline) {
				t.Fatalf("UDP port 9153 of %s was not relayed to %s/dns within 2 minutes: %s", env.weirs[i].Name, ns, last)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// udpExchange sends msg to addr and returns the first answer (within 2 s).
func udpExchange(addr, msg string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}
