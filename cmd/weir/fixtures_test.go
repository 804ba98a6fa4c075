package main

import "fmt"

// loopbackService is the start of the manifests the offline tests serve:
// the weir IngressClass, Service name in namespace default with one port
// (portName, port) and its EndpointSlice holding one ready endpoint,
// 127.0.0.1:backendPort (the test's own backend). An Ingress follows.
func loopbackService(name, portName string, port int, backendPort string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: weir}
spec: {controller: weir.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec: {ports: [{name: %[2]s, port: %[3]d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-1, namespace: default, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
ports: [{name: %[2]s, port: %[4]s, protocol: TCP}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
`, name, portName, port, backendPort)
}
