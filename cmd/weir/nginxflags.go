package main

import (
	"flag"
	"fmt"
	"sort"
	"strings"
)

// ignoredFlag is an ingress-nginx flag that means nothing to Weir: it is
// accepted, so an existing Deployment's args work after swapping the
// image, and noted in one log line.
type ignoredFlag struct {
	name, why string
	boolean   bool
	set       *[]string // the notes of the flags given
}

func (f *ignoredFlag) String() string { return "" }

func (f *ignoredFlag) Set(v string) error {
	*f.set = append(*f.set, fmt.Sprintf("--%s=%s is an ingress-nginx flag with no meaning for Weir (%s); ignored", f.name, v, f.why))
	return nil
}

// IsBoolFlag lets "--enable-metrics" stand without a value.
func (f *ignoredFlag) IsBoolFlag() bool { return f.boolean }

const (
	whyNginx   = "it tunes nginx or its Lua balancer"
	whyMetrics = "Weir's metrics are always on, at --metrics-port"
	whyLog     = "Weir logs with zap; see --log-level"
	whyAPI     = "Weir watches the API server and needs no resync tuning"
	whyWebhook = "Weir has no admission webhook; problems are Events on the objects"
	whyPort    = "Weir runs no internal nginx ports"
)

// ignoredFlags are ingress-nginx v1.15's flags (and klog's) that Weir
// accepts without effect: name, whether it is boolean, and why.
var ignoredFlags = []struct {
	name    string
	boolean bool
	why     string
}{
	{"enable-metrics", true, whyMetrics}, {"metrics-per-undefined-host", true, whyMetrics},
	{"exclude-socket-metrics", false, whyMetrics}, {"time-buckets", false, whyMetrics}, {"length-buckets", false, whyMetrics},
	{"size-buckets", false, whyMetrics}, {"monitor-max-batch-size", false, whyMetrics}, {"report-status-classes", true, whyMetrics},
	{"v", false, whyLog}, {"vmodule", false, whyLog}, {"logtostderr", true, whyLog}, {"alsologtostderr", true, whyLog},
	{"stderrthreshold", false, whyLog}, {"log_dir", false, whyLog}, {"log_file", false, whyLog}, {"log_file_max_size", false, whyLog},
	{"one_output", true, whyLog}, {"skip_headers", true, whyLog}, {"skip_log_headers", true, whyLog}, {"add_dir_header", true, whyLog},
	{"internal-logger-address", false, whyLog},
	{"sync-period", false, whyAPI}, {"sync-rate-limit", false, whyAPI}, {"status-update-interval", false, whyAPI},
	{"election-ttl", false, "Weir's Lease timings are fixed"}, {"disable-sync-events", true, "Weir records only Events about problems"},
	{"validating-webhook", false, whyWebhook}, {"validating-webhook-certificate", false, whyWebhook},
	{"validating-webhook-key", false, whyWebhook}, {"enable-annotation-validation", true, "Weir always validates annotations"},
	{"default-server-port", false, whyPort}, {"status-port", false, whyPort}, {"stream-port", false, whyPort},
	{"profiler-port", false, "--profiling serves pprof on --metrics-port"}, {"ssl-passthrough-proxy-port", false, "Weir passes TLS through on the HTTPS port itself, with no internal proxy port"},
	{"healthz-port", false, "/healthz is on --metrics-port"}, {"healthz-host", false, "/healthz is on --metrics-port"},
	{"health-check-path", false, "Weir serves /healthz and /readyz"}, {"health-check-timeout", false, whyNginx},
	{"disable-full-test", true, "Weir renders no nginx configuration to test"}, {"dynamic-configuration-retries", false, whyNginx},
	{"enable-ssl-chain-completion", true, "Weir serves the chain in the Secret as it is"},
	{"enable-topology-aware-routing", true, "Weir balances over every ready endpoint"},
	{"post-shutdown-grace-period", false, "see --drain-period"}, {"shutdown-grace-period", false, "see --shutdown-delay"},
	{"report-node-internal-ip-address", true, "use --publish-service or --publish-status-address"},
	{"apiserver-host", false, "use --kubeconfig"}, {"maxmind-license-key", false, whyNginx}, {"maxmind-edition-ids", false, whyNginx},
	{"maxmind-mirror", false, whyNginx}, {"maxmind-retries-count", false, whyNginx}, {"maxmind-retries-timeout", false, whyNginx},
	{"update-status-on-shutdown", true, "Weir leaves Ingress status in place on shutdown, so clients keep the address while the next replica or release takes over"},
	{"deep-inspect", true, "Weir always validates the objects it reads"}, {"chroot", true, whyNginx},
}

// registerIgnored adds the ignored flags to fs; notes collects one line per
// flag given.
func registerIgnored(fs *flag.FlagSet, notes *[]string) {
	for _, f := range ignoredFlags {
		fs.Var(&ignoredFlag{name: f.name, why: f.why, boolean: f.boolean, set: notes}, f.name, "ingress-nginx flag, ignored: "+f.why)
	}
}

// isIgnored reports whether a flag is one of ignoredFlags.
func isIgnored(name string) bool {
	for _, f := range ignoredFlags {
		if f.name == name {
			return true
		}
	}
	return false
}

// ignoredNames lists the ignored flags, sorted, as the README writes them.
func ignoredNames() string {
	names := make([]string, 0, len(ignoredFlags))
	for _, f := range ignoredFlags {
		names = append(names, "`--"+f.name+"`")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
