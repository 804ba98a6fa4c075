package proxy

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// weirFrameBudget bounds the stack frames of Weir's own functions on each
// branch of an HTTP/2 stream's request path. x/net/http2 serves every
// stream on a new goroutine, which starts with the runtime's adaptive
// stack (4 KiB under load) and may use about 3,170 bytes of it before it
// grows; a growth copies the stack and costed 8 % of Weir's CPU per
// request in S4 (docs/performance.md, "A request path within a stream's
// first stack"). Left for the frames of x/net above Weir's and of bufio,
// net, poll and the system call below it: about 770 bytes.
const weirFrameBudget = 2400

// The branches of the request path, from the handler x/net calls to the
// deepest function of Weir's on each: the read of the endpoint's answer,
// the writing of the request's fields, the checks of the request head,
// the filling of the request, the copy of the answer and the reading of
// its head.
var streamBranches = func() map[string][]string {
	const p, u = "weir.dev/weir/proxy.", "weir.dev/weir/proxy/upstream."
	base := []string{p + "h2Handler.ServeHTTP", p + "(*Server).ServeHTTP", p + "(*Server).serve", p + "(*Server).forward"}
	ex := append(base[:len(base):len(base)], p+"(*upstreams).roundTripBackend", p+"(*upstreams).roundTripH1",
		u+"(*Client).RoundTrip", u+"(*Client).exchange")
	with := func(path []string, more ...string) []string { return append(path[:len(path):len(path)], more...) }
	return map[string][]string{
		"read the answer":  with(ex, u+"(*connReader).Read", u+"(*connReader).fused", u+"(*connReader).stepFused"),
		"write the fields": with(ex, u+"send", u+"writeRequest", p+"(*outgoing).WriteFields", p+"(*outgoing).writeForwarded", p+"(*outgoing).forwarded"),
		"check the head":   with(base, p+"checkOutgoing", p+"checkForwarded", p+"(*outgoing).forwarded"),
		"fill the request": with(base, p+"(*Server).fillOutgoing"),
		"copy the answer":  with(base, p+"(*Server).respond", p+"(*Server).copyResponse"),
		"read its head":    with(ex, u+"readResponseHead"),
		"make the answer":  with(ex, u+"(*Client).response"),
	}
}()

// TestStreamPathFitsItsFirstStack reads the frame sizes the compiler gives
// Weir's functions (go build -gcflags=-S) and checks every branch of an
// HTTP/2 stream's request path against weirFrameBudget. A failure means a
// change made the path deeper: take the new locals out of the path (a
// cold branch into a function of its own, a large value filled in place)
// rather than raise the budget, or check with S4's profile that streams
// still do not grow their stacks.
func TestStreamPathFitsItsFirstStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the proxy packages")
	}
	goTool := "go"
	if root := runtime.GOROOT(); root != "" { // "" in a -trimpath build
		goTool = filepath.Join(root, "bin", "go")
	}
	goTool, err := exec.LookPath(goTool)
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	// The frames of the build that ships: a -race (or -cover, -asan,
	// -msan) in GOFLAGS would measure instrumented code, far over the budget.
	cmd := exec.Command(goTool, "build", "-race=false", "-cover=false", "-asan=false", "-msan=false",
		"-gcflags=weir.dev/weir/proxy/...=-S", "weir.dev/weir/proxy", "weir.dev/weir/proxy/upstream")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	text := regexp.MustCompile(`(?m)^(\S+) STEXT .*? locals=0x([0-9a-f]+)`)
	frames := map[string]int{}
	for _, m := range text.FindAllStringSubmatch(string(out), -1) {
		locals, _ := strconv.ParseInt(m[2], 16, 64)
		if _, seen := frames[m[1]]; !seen {
			frames[m[1]] = int(locals) + 8 // and the return address
		}
	}
	for name, path := range streamBranches {
		sum := 0
		var parts []string
		for _, fn := range path {
			size, ok := frames[fn]
			if !ok {
				// Renamed, or now inlined: a branch counted without it
				// could pass at any depth. Update streamBranches.
				t.Fatalf("%s: %s is not in the compiler's output: renamed or inlined?", name, fn)
			}
			sum += size
			parts = append(parts, strconv.Itoa(size))
		}
		if sum > weirFrameBudget {
			t.Errorf("%s: Weir's frames take %d bytes (%s), over the budget of %d", name, sum, strings.Join(parts, " + "), weirFrameBudget)
		}
	}
}
