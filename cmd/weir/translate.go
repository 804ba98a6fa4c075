package main

import (
	"flag"
	"fmt"
	"io"

	"weir.dev/weir/controller/offline"
	"weir.dev/weir/controller/translate"
)

// translateCommand is `weir translate -f PATH`: it prints the routing tables
// (Ingress, then each Gateway listener's), the Gateway API status Weir would
// write and the problems of the objects in PATH, and exits 1 when there are
// problems (a lint for Ingress and Gateway API manifests in CI pipelines).
func translateCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("f", "", "YAML file or directory of Kubernetes objects")
	class := fs.String("ingress-class", translate.DefaultIngressClass, "legacy ingress class Weir serves")
	ctrl := fs.String("controller-class", translate.DefaultControllerClass, "IngressClass controller Weir serves")
	gwc := fs.String("gateway-controller-name", translate.DefaultGatewayControllerName, "GatewayClass controllerName Weir serves")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "usage: weir translate -f PATH")
		return 2
	}
	dump, problems, err := offline.TranslateFiles(*path, translate.Options{IngressClass: *class, ControllerClass: *ctrl,
		GatewayControllerName: *gwc})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprint(stdout, dump)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "\n%d problem(s):\n%s", len(problems), translate.FormatProblems(problems))
		return 1
	}
	return 0
}
