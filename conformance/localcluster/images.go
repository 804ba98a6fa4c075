package localcluster

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ImageRule maps container images to a local binary. The binary runs with
// the container's command after its first element (the entrypoint, which the
// binary replaces) followed by its args.
type ImageRule struct {
	// Contains matches any image whose reference contains it, any tag.
	Contains string
	// Binary is the absolute path of the program to run.
	Binary string
}

func defaultImageRules(opts Options, bins Binaries) []ImageRule {
	rules := append([]ImageRule(nil), opts.Images...)
	rules = append(rules, ImageRule{Contains: "echo-basic", Binary: bins.EchoBasic})
	if opts.WeirBinary != "" {
		rules = append(rules, ImageRule{Contains: "weir", Binary: opts.WeirBinary})
	}
	return rules
}

// resolveImage returns the binary for an image, or an error naming the
// images that are known.
func resolveImage(rules []ImageRule, image string) (string, error) {
	var known []string
	for _, r := range rules {
		if r.Binary != "" && strings.Contains(image, r.Contains) {
			return r.Binary, nil
		}
		known = append(known, "*"+r.Contains+"*")
	}
	return "", fmt.Errorf("no local binary for image %q (this kubelet runs only %s)", image, strings.Join(known, ", "))
}

// argv is the process's argument vector for a container.
func argv(binary string, c *corev1.Container) []string {
	out := []string{binary}
	if len(c.Command) > 1 {
		out = append(out, c.Command[1:]...)
	}
	return append(out, c.Args...)
}
