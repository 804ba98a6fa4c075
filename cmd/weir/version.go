package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version and commit are set at build time, for example
//
//	go build -ldflags "-X main.version=v0.4.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/weir
//
// (deploy/Dockerfile does). Left empty, they come from the build information
// Go records: the module version for `go install`, the VCS revision for a
// build inside a git checkout.
var (
	version string
	commit  string
)

// build says which Weir this is.
type build struct {
	Version   string
	Commit    string
	GoVersion string
	Modified  bool // built from a work tree with uncommitted changes
}

func (b build) String() string {
	s := fmt.Sprintf("weir %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
	if b.Modified {
		s += " with uncommitted changes"
	}
	return s
}

// currentBuild combines the -ldflags values with Go's build information.
func currentBuild() build {
	b := build{Version: version, Commit: commit, GoVersion: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = info.GoVersion
		if b.Version == "" && info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.modified" && commit == "":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// versionCommand is `weir version`.
func versionCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "weir version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, currentBuild())
	return exitOK
}

// buildInfo is weir_build_info: always 1, the build in its labels, so
// dashboards can show which version each replica runs.
func buildInfo(b build) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "weir_build_info",
		Help:        "Always 1; the labels say which build of Weir is running.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}
