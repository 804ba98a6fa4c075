// Package localcluster runs a small but real Kubernetes control plane on one
// machine without Docker: etcd, kube-apiserver and kube-controller-manager
// built from source, plus a process kubelet (this package) that binds Pods to
// a Node it registers and runs each container as a local process inside the
// Pod's own network namespace.
//
// Everything a cluster owns is derived from its name (ports, bridge, pod
// range, state directory), so several clusters can coexist, and Down cleans a
// cluster up from its state directory even after the process that started it
// was killed. Traffic stays on loopback and on a 10.244.N.0/24 bridge that has
// no route or NAT to the outside.
//
// The kubelet needs root (network and mount namespaces); Up fails at once
// without it.
package localcluster
