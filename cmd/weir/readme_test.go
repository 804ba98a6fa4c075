package main

import (
	"os"
	"strings"
	"testing"
)

// TestEveryFlagIsInTheREADME keeps the README's flag table complete.
func TestEveryFlagIsInTheREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := flagNames()
	if len(names) < 10 {
		t.Fatalf("only %d flags found", len(names))
	}
	for _, n := range names {
		if !strings.Contains(string(readme), "`--"+n+"`") {
			t.Errorf("flag --%s is not in the README's flag table", n)
		}
	}
}
