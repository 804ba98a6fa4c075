// Command weir is the Weir ingress controller: it watches Ingresses (or, with
// --manifests, YAML files), serves HTTP and HTTPS from the routing table it
// builds, and exposes /healthz, /readyz and /metrics. Its subcommands are
// `weir translate` (a lint for manifests), `weir migrate` (what a cluster
// running ingress-nginx would keep and lose) and `weir version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Exit statuses of the controller; the subcommands document their own.
const (
	exitOK     = 0
	exitFailed = 1 // the controller stopped with an error (a port that cannot bind)
	exitUsage  = 2 // the command line or the configuration is wrong
)

// subcommands run instead of the controller when named first.
var subcommands = map[string]func(args []string, stdin io.Reader, stdout, stderr io.Writer) int{
	"translate": translateCommand,
	"migrate":   migrateCommand,
	"version":   versionCommand,
}

func main() {
	os.Exit(weir(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// weir runs the command line: a subcommand, or the controller until SIGTERM.
func weir(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "help" {
		args = []string{"-h"}
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, ok := subcommands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "weir: unknown command %q (commands: migrate, translate, version, help)\n", args[0])
			return exitUsage
		}
		return cmd(args[1:], stdin, stdout, stderr)
	}
	cfg, code := commandLine(args, stdout, stderr)
	if cfg == nil {
		return code
	}
	log, err := newLogger(cfg.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "weir: %v\n", err)
		return exitUsage
	}
	defer log.Sync()
	if os.Getenv("GOGC") == "" {
		// The heap is small (tables, connection buffers) and allocation is
		// per request: collecting at 5x the live heap instead of 2x cuts the
		// proxy's CPU per request by about a tenth. GOGC overrides it; the
		// headroom's floor (gcheadroom.go) raises it for small heaps.
		debug.SetGCPercent(gcBasePercent)
	}
	// With GOGC at 400 the heap may grow far before a collection: the soft
	// limit below the container's keeps it from being OOM-killed first.
	limit, err := memoryLimitFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "weir: %v\n", err)
		return exitUsage
	}
	if limit > 0 {
		log.Info("Go memory limit: 90% of the container's", zap.Int64("bytes", limit))
	}
	if cfg.sysmonBatch {
		// Early, while the program is busy: see batchMonitor.
		if tid, err := batchMonitor(); err != nil {
			log.Debug("the runtime's monitor thread keeps its scheduling policy", zap.Error(err))
		} else {
			log.Debug("the runtime's monitor thread runs under SCHED_BATCH", zap.Int("tid", tid))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	applyGather(ctx, cfg.gatherWrites)
	applyGCHeadroom(ctx, os.Getenv, cfg.gcMinHeadroomMiB)
	if err := run(ctx, cfg, log); err != nil && !errors.Is(err, context.Canceled) {
		// One readable line: the process ends here, a stack trace would
		// only hide the cause.
		fmt.Fprintf(stderr, "weir: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// commandLine parses the controller's flags. A nil config means the process
// ends with the returned status: after -h, --version, or a mistake, which is
// reported in one line.
func commandLine(args []string, stdout, stderr io.Writer) (*config, int) {
	cfg, fs := newFlagSet()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return nil, exitOK
	case err != nil:
		fmt.Fprintf(stderr, "weir: %v (weir -h lists the flags)\n", err)
		return nil, exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "weir: unexpected argument %q (weir -h lists the flags)\n", fs.Arg(0))
		return nil, exitUsage
	case cfg.version:
		fmt.Fprintln(stdout, currentBuild())
		return nil, exitOK
	}
	return cfg, exitOK
}

func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil // access logs must not be sampled away
	// Errors here are about requests and objects, not code: a stack trace
	// on each would bury the message.
	zc.DisableStacktrace = true
	zc.EncoderConfig.TimeKey = "time"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}
