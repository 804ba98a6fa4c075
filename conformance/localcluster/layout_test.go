package localcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestClaimLayoutSkipsTakenIndex(t *testing.T) {
	old := stateRoot
	stateRoot = t.TempDir()
	defer func() { stateRoot = old }()
	a := "collide-a"
	var b string
	for i := range 100000 {
		if n := fmt.Sprintf("collide-%d", i); hashIndex(n) == hashIndex(a) && n != a {
			b = n
			break
		}
	}
	if b == "" {
		t.Fatal("found no colliding name")
	}
	la, err := claimLayout(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := claimLayout(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if la.index == lb.index || la.apiserverPort == lb.apiserverPort || la.podPrefix == lb.podPrefix {
		t.Errorf("%s and %s share index %d", a, b, la.index)
	}
	if again, _ := newLayout(b); again.index != lb.index {
		t.Errorf("newLayout(%s) = index %d, want the recorded %d", b, again.index, lb.index)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	for in, want := range map[string]string{
		"plain": "plain", "$(A)": "x", "$(A)-$(B)": "x-y", "$(C)": "$(C)", "$$(A)": "$(A)", "a$": "a$", "$(A": "$(A",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"TestFoo": "testfoo", "TestFoo/sub_case": "testfoo-sub-case", "---": "test",
		"TestAVeryLongNameThatGoesOnAndOn": "testaverylongnamethatgoes",
	} {
		if got := testSlug(in); got != want {
			t.Errorf("testSlug(%q) = %q, want %q", in, got, want)
		}
	}
	if n := nameFor("TestFoo/with spaces"); !validName.MatchString(n) {
		t.Errorf("nameFor gave an invalid name %q", n)
	}
}

func TestWriteLogs(t *testing.T) {
	dir := t.TempDir()
	sink, err := openLogSink(dir + "/c.log")
	if err != nil {
		t.Fatal(err)
	}
	out := sink.stream("stdout")
	fmt.Fprint(out, "one\ntw")
	fmt.Fprint(out, "o\n")
	mid := time.Now()
	time.Sleep(10 * time.Millisecond)
	fmt.Fprint(out, "three\n")
	sink.Close()
	read := func(q logQuery) string {
		var b strings.Builder
		if err := writeLogs(context.Background(), dir+"/c.tslog", q, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got := read(logQuery{tail: -1}); got != "one\ntwo\nthree\n" {
		t.Errorf("all lines: %q", got)
	}
	if got := read(logQuery{tail: 1}); got != "three\n" {
		t.Errorf("tail 1: %q", got)
	}
	if got := read(logQuery{tail: -1, since: mid}); got != "three\n" {
		t.Errorf("since: %q", got)
	}
	if got := read(logQuery{tail: -1, limitBytes: 5}); got != "one\nt" {
		t.Errorf("limitBytes 5: %q", got)
	}
}

func TestArgv(t *testing.T) {
	c := &corev1.Container{Command: []string{"/entry", "--c"}, Args: []string{"--a"}}
	if got := fmt.Sprint(argv(ImageRule{Binary: "/bin/x"}, c)); got != "[/bin/x --c --a]" {
		t.Errorf("argv = %s", got)
	}
	if got := fmt.Sprint(argv(ImageRule{Binary: "/bin/x", IgnoreCommand: true}, c)); got != "[/bin/x --a]" {
		t.Errorf("argv ignoring the command = %s", got)
	}
	rules := []ImageRule{{Contains: "echo-basic", Binary: "/e"}}
	if r, err := resolveImage(rules, "registry.k8s.io/gateway-api/echo-basic:v1.5.1"); err != nil || r.Binary != "/e" {
		t.Errorf("resolveImage(echo-basic) = %v, %v", r, err)
	}
	if _, err := resolveImage(rules, "nginx"); err == nil {
		t.Error("resolveImage(nginx) found a binary")
	}
}

// TestIPAMLeavesThePoolAlone checks that Pods get .2-.199 and never an
// address of the LoadBalancer pool.
func TestIPAMLeavesThePoolAlone(t *testing.T) {
	l := layoutFor("ipamtest", 42)
	a := newIPAM(l)
	seen := map[string]bool{}
	for range lastPodHost - 1 {
		addr, err := a.allocate()
		if err != nil {
			t.Fatal(err)
		}
		if last := addr.As4()[3]; last < 2 || last > lastPodHost || seen[addr.String()] {
			t.Fatalf("allocated %v (seen before: %v)", addr, seen[addr.String()])
		}
		seen[addr.String()] = true
	}
	if addr, err := a.allocate(); err == nil {
		t.Fatalf("all %d Pod addresses in use, yet got %v", lastPodHost-1, addr)
	}
	a.release(l.hostAddr(77))
	if addr, err := a.allocate(); err != nil || addr != l.hostAddr(77) {
		t.Fatalf("after releasing .77: got %v, %v", addr, err)
	}
}
