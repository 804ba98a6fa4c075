package annotations

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/annotations.md")

// TestDocsAreCurrent keeps docs/annotations.md generated from the registry:
// go test ./annotations -update rewrites it.
func TestDocsAreCurrent(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Annotations\n\nGenerated from the registry in `annotations/` by `go test ./annotations -update`; do not edit.\n\n")
	b.WriteString("Keys without a prefix below carry `nginx.ingress.kubernetes.io/`; Weir's own carry `weir.dev/`. Every annotation ingress-nginx v1.15 reads is listed. Status: **Implemented**; **NoOp** (accepted silently: Weir already behaves so, or the key only tunes nginx); **NotImplemented** (a warning Event on the Ingress; the consequence says what happens instead); **FailClosed** (an access restriction Weir does not enforce: every path of the Ingress answers 503); **Rejected** (configuration injection: a warning, the value ignored). An unknown key gets a warning, with \"did you mean\" when it is close to a known one.\n\n")
	b.WriteString("| annotation | status | scope | default | on a canary Ingress | description |\n|---|---|---|---|---|---|\n")
	for _, e := range All() {
		canary := ""
		if e.OnCanary {
			canary = "read"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", e.Name, e.Status, e.Scope, code(e.Default), canary, e.Doc)
	}
	const path = "../docs/annotations.md"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./annotations -update)", err)
	}
	if string(got) != b.String() {
		t.Fatal("docs/annotations.md is stale: run go test ./annotations -update")
	}
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
