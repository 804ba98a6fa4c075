package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"weir.dev/weir/proxy"
)

// metricsFlags shape the request metrics (docs/metrics.md).
type metricsFlags struct {
	perHost bool
	compat  string
}

func (f *metricsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.perHost, "metrics-per-host", true, "label request metrics with the route's host (as ingress-nginx's flag)")
	fs.StringVar(&f.compat, "metrics-compat", "", "also export another controller's metric names: \"ingress-nginx\" (nginx_ingress_controller_*), for its dashboards and alerts")
}

// compatLabels are the constant labels of the ingress-nginx families (nil
// when --metrics-compat is off), as ingress-nginx sets them: the Pod's
// namespace and name (downward API) and the controller class.
func (c *config) compatLabels() (prometheus.Labels, error) {
	switch c.metrics.compat {
	case "":
		return nil, nil
	case "ingress-nginx":
	default:
		return nil, fmt.Errorf("--metrics-compat: %q is not \"ingress-nginx\" or empty", c.metrics.compat)
	}
	pod := os.Getenv("POD_NAME")
	if pod == "" {
		pod, _ = os.Hostname()
	}
	return prometheus.Labels{"controller_namespace": os.Getenv("POD_NAMESPACE"), "controller_class": c.controllerClass,
		"controller_pod": pod}, nil
}

// newRegistry is the registry /metrics serves, with the Go runtime, process
// and build families; with --metrics-compat=ingress-nginx the process's
// memory and CPU also under ingress-nginx's names
// (nginx_ingress_controller_nginx_process_*).
func newRegistry(cfg *config) (*prometheus.Registry, error) {
	compat, err := cfg.compatLabels()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(currentBuild()))
	if compat != nil {
		prometheus.WrapRegistererWith(compat, reg).MustRegister(collectors.NewProcessCollector(
			collectors.ProcessCollectorOpts{Namespace: "nginx_ingress_controller_nginx"}))
	}
	return reg, nil
}

func (c *config) metricsOptions(compat prometheus.Labels) proxy.MetricsOptions {
	return proxy.MetricsOptions{PerHost: c.metrics.perHost, Compat: compat}
}
