package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Every container runs in its own UTS namespace with the Pod's host name, as
// a real kubelet gives each Pod sandbox one, and sees a per-Pod /etc/hosts.
// Without it every Pod would share the machine's host name, and programs
// that name themselves after it (leader-election identities, log fields)
// would collide.

// clusterDomain is the DNS suffix of Services and Pod subdomains.
const clusterDomain = "cluster.local"

// podHostname returns the Pod's host name and its domain ("" without a
// subdomain), the way the kubelet derives them: spec.hostname, else the Pod
// name cut to 63 bytes without trailing '-' or '.'; the domain is
// <subdomain>.<namespace>.svc.<cluster domain>.
func podHostname(pod *corev1.Pod) (host, domain string) {
	host = pod.Spec.Hostname
	if host == "" {
		host = pod.Name
		if len(host) > 63 {
			host = strings.TrimRight(host[:63], "-.")
		}
	}
	if pod.Spec.Subdomain != "" {
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return host, domain
}

// utsName is what the container's UTS namespace is set to: the host name, or
// the fully qualified name with setHostnameAsFQDN (at most 64 bytes, the
// kernel's limit, as the kubelet checks).
func utsName(pod *corev1.Pod) (string, error) {
	host, domain := podHostname(pod)
	if domain == "" || pod.Spec.SetHostnameAsFQDN == nil || !*pod.Spec.SetHostnameAsFQDN {
		return host, nil
	}
	fqdn := host + "." + domain
	if len(fqdn) > 64 {
		return "", fmt.Errorf("the fully qualified host name %q is longer than 64 bytes (setHostnameAsFQDN)", fqdn)
	}
	return fqdn, nil
}

// writeHostsFile writes the Pod's /etc/hosts into dir and returns its path:
// loopback entries and the Pod's address with its names, like the file the
// kubelet manages.
func writeHostsFile(dir string, pod *corev1.Pod, podIP string) (string, error) {
	host, domain := podHostname(pod)
	names := host
	if domain != "" {
		names = host + "." + domain + "\t" + host
	}
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (weir process kubelet).\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&b, "%s\t%s\n", podIP, names)
	for _, a := range pod.Spec.HostAliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	path := filepath.Join(dir, "etc-hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("writing the Pod's /etc/hosts: %w", err)
	}
	return path, nil
}

// mountsPath reports whether a container mounts a volume at path itself.
func mountsPath(c *corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		if filepath.Clean(vm.MountPath) == path {
			return true
		}
	}
	return false
}
