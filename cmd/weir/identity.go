package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// electionIdentity names this process in the leader election for Ingress
// status: the Pod's name (POD_NAME, from the downward API in
// deploy/base/deployment.yaml), else the host name, plus a random suffix.
// The suffix keeps two processes apart even when they share a name, as
// hostNetwork Pods on one node share the host name; a restarted process is
// a new candidate and waits for the old identity's Lease to expire.
func electionIdentity() string {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return name + "_" + hex.EncodeToString(b)
}
