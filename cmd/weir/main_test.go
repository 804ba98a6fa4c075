package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runWeir runs the command line as main does and returns the exit status
// and both outputs.
func runWeir(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := weir(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUnknownCommandNeverStartsTheController(t *testing.T) {
	code, out, errOut := runWeir("foo")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Equal(t, "weir: unknown command \"foo\" (commands: migrate, translate, version, help)\n", errOut)
}

func TestStrayArgumentsAndBadFlagsAreOneLine(t *testing.T) {
	code, _, errOut := runWeir("--manifests", "x.yaml", "extra")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "weir: unexpected argument \"extra\" (weir -h lists the flags)\n", errOut)

	code, _, errOut = runWeir("--http-port", "eighty")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	assert.Contains(t, errOut, "-http-port")

	for _, help := range []string{"-h", "help"} {
		code, out, _ := runWeir(help)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "weir migrate")
	}
}

func TestVersion(t *testing.T) {
	version, commit = "v1.2.3", "abc123"
	t.Cleanup(func() { version, commit = "", "" })
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runWeir(args...)
		assert.Equal(t, exitOK, code)
		assert.Regexp(t, `^weir v1\.2\.3 \(commit abc123, go1\.\d+`, out)
	}
	code, _, _ := runWeir("version", "extra")
	assert.Equal(t, exitUsage, code)

	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfo(currentBuild()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	m := mfs[0].GetMetric()[0]
	assert.Equal(t, "weir_build_info", mfs[0].GetName())
	assert.Equal(t, 1.0, m.GetGauge().GetValue())
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	assert.Equal(t, map[string]string{"version": "v1.2.3", "commit": "abc123", "goversion": currentBuild().GoVersion}, labels)
}

// A port that cannot be bound ends the process with one line naming the
// flag, instead of running without it.
func TestPortInUseEndsTheProcess(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for _, flag := range []string{"--metrics-port", "--http-port"} {
		args := []string{"--manifests", "../../deploy/examples/demo.yaml", "--bind-address", "127.0.0.1",
			"--http-port", "0", "--https-port", "0", "--metrics-port", "0", flag, port}
		code, _, errOut := runWeir(args...)
		assert.Equal(t, exitFailed, code, flag)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		assert.Contains(t, errOut, "weir: "+flag+": listen tcp 127.0.0.1:"+port)
	}
}

func TestConfigurationErrorIsOneLine(t *testing.T) {
	code, _, errOut := runWeir("--manifests", "../../deploy/examples/demo.yaml", "--http-port", "0", "--https-port", "0",
		"--metrics-port", "0", "--trusted-proxies", "10.0.0.0/33")
	assert.Equal(t, exitFailed, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	assert.Contains(t, errOut, "weir: --trusted-proxies:")
}
