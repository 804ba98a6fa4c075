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
	b.WriteString("Keys without a prefix below carry `nginx.ingress.kubernetes.io/`; Weir's own carry `weir.dev/`. An annotation that is not supported, unknown, or a snippet is reported on the Ingress as a warning Event and has no effect.\n\n")
	b.WriteString("| annotation | scope | default | supported | on a canary Ingress | description |\n|---|---|---|---|---|---|\n")
	for _, e := range All() {
		supported := "yes"
		switch {
		case e.Snippet:
			supported = "never (rejected)"
		case !e.Supported:
			supported = "no (warning)"
		}
		canary := ""
		if e.OnCanary {
			canary = "read"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", e.Name, e.Scope, code(e.Default), supported, canary, e.Doc)
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
