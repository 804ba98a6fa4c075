package main

import (
	"strings"
	"testing"
)

func TestElectionIdentityIsPodNameAndUniquePerProcess(t *testing.T) {
	t.Setenv("POD_NAME", "weir-5d8f7c9b4-x2x7q")
	a, b := electionIdentity(), electionIdentity()
	if !strings.HasPrefix(a, "weir-5d8f7c9b4-x2x7q_") || !strings.HasPrefix(b, "weir-5d8f7c9b4-x2x7q_") {
		t.Fatalf("identities %q, %q: want the Pod name, an underscore and a suffix", a, b)
	}
	if a == b {
		t.Fatalf("two calls gave the same identity %q: replicas sharing a name would both lead", a)
	}
}

func TestElectionIdentityFallsBackToHostName(t *testing.T) {
	t.Setenv("POD_NAME", "")
	id := electionIdentity()
	if strings.HasPrefix(id, "_") || len(id) < len("_")+12+1 {
		t.Fatalf("identity %q: want the host name and a 12-hex-digit suffix", id)
	}
}
