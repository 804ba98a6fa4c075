package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	weirmanifests "weir.dev/weir/controller/manifests"
	"weir.dev/weir/controller/offline"
	"weir.dev/weir/controller/translate"
)

// Exit statuses of `weir translate` and `weir migrate`.
const (
	lintClean      = 0
	lintProblems   = 1
	lintUnreadable = 2
)

// files is a repeatable -f flag.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

// loadFiles reads every -f (a file, a directory, or - for stdin).
func loadFiles(paths []string, stdin io.Reader) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, p := range paths {
		var objs []runtime.Object
		var err error
		if p == "-" {
			objs, err = weirmanifests.Decode(stdin)
			if err != nil {
				err = fmt.Errorf("standard input: %w", err)
			}
		} else {
			objs, err = weirmanifests.Load(p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// translateCommand is `weir translate -f PATH...`: a lint for application
// manifests in CI pipelines. It prints the routing table and the
// configuration problems of the objects (exit 1 when there are any, 2 when
// the files cannot be read). What depends on the cluster (Services,
// endpoints, TLS Secrets not in the files) is not a problem here.
func translateCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var paths files
	fs.Var(&paths, "f", "YAML file or directory of Kubernetes objects, - for standard input (repeatable)")
	class := fs.String("ingress-class", translate.DefaultIngressClass, "Ingresses of this class are Weir's (by ingressClassName, or the legacy annotation) unless the files hold an IngressClass of that name")
	ctrl := fs.String("controller-class", translate.DefaultControllerClass, "IngressClass controller Weir serves")
	all := fs.Bool("all", false, "treat every Ingress as Weir's, whatever its class")
	format := fs.String("o", "text", "output: text or json")
	gwc := fs.String("gateway-controller-name", translate.DefaultGatewayControllerName, "GatewayClass controllerName Weir serves")
	passthrough := fs.Bool("enable-ssl-passthrough", false, "translate as Weir started with --enable-ssl-passthrough does (the ssl-passthrough annotation honoured)")
	if err := fs.Parse(args); err != nil {
		return lintUnreadable
	}
	if len(paths) == 0 || fs.NArg() > 0 || (*format != "text" && *format != "json") {
		fmt.Fprintln(stderr, "usage: weir translate -f PATH [-f PATH...] [--ingress-class NAME | --all] [-o text|json]")
		return lintUnreadable
	}
	objs, err := loadFiles(paths, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "weir translate: %v\n", err)
		return lintUnreadable
	}
	res := offline.Lint(objs, translate.Options{IngressClass: *class, ControllerClass: *ctrl, GatewayControllerName: *gwc,
		SSLPassthrough: *passthrough},
		offline.LintOptions{All: *all})
	if *format == "json" {
		writeLintJSON(stdout, res)
	} else {
		writeLintText(stdout, stderr, res, *class)
	}
	if len(res.Problems) > 0 {
		return lintProblems
	}
	return lintClean
}

func writeLintText(stdout, stderr io.Writer, res offline.LintResult, class string) {
	fmt.Fprint(stdout, res.Table, res.Gateway)
	for _, ref := range res.Ignored {
		fmt.Fprintf(stderr, "skipped, not of class %s: %s (--all lints every Ingress)\n", class, ref)
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(stderr, "\n%d problem(s):\n%s", len(res.Problems), translate.FormatProblems(res.Problems))
	}
}

// lintJSON is `weir translate -o json`.
type lintJSON struct {
	Problems []problemJSON `json:"problems"`
	Ignored  []string      `json:"ignored"`
	Table    string        `json:"table"`
	Gateway  string        `json:"gateway,omitempty"` // Gateway listeners' tables and status (YAML)
}

type problemJSON struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Field     string `json:"field"`
	Reason    string `json:"reason"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
}

func writeLintJSON(w io.Writer, res offline.LintResult) {
	out := lintJSON{Problems: []problemJSON{}, Ignored: []string{}, Table: res.Table, Gateway: res.Gateway}
	for _, p := range res.Problems {
		out.Problems = append(out.Problems, problemJSON{Kind: p.Object.Kind, Namespace: p.Object.Namespace, Name: p.Object.Name,
			Field: p.Field, Reason: p.Reason, Severity: string(p.Severity), Message: p.Message})
	}
	for _, ref := range res.Ignored {
		out.Ignored = append(out.Ignored, ref.String())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
