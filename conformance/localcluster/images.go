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
	// IgnoreCommand drops the container's command and passes only its args
	// (echo-basic's rule). Default false.
	IgnoreCommand bool
}

func defaultImageRules(opts Options, bins Binaries) []ImageRule {
	rules := append([]ImageRule(nil), opts.Images...)
	rules = append(rules, ImageRule{Contains: "echo-basic", Binary: bins.EchoBasic, IgnoreCommand: true})
	if opts.WeirBinary != "" {
		rules = append(rules, ImageRule{Contains: "weir", Binary: opts.WeirBinary})
	}
	return rules
}

// resolveImage returns the rule for an image, or an error naming the images
// that are known.
func resolveImage(rules []ImageRule, image string) (ImageRule, error) {
	var known []string
	for _, r := range rules {
		if r.Binary != "" && strings.Contains(image, r.Contains) {
			return r, nil
		}
		known = append(known, "*"+r.Contains+"*")
	}
	return ImageRule{}, fmt.Errorf("no local binary for image %q (this kubelet runs only %s)", image, strings.Join(known, ", "))
}

// argv is the process's argument vector for a container.
func argv(rule ImageRule, c *corev1.Container) []string {
	out := []string{rule.Binary}
	if len(c.Command) > 1 && !rule.IgnoreCommand {
		out = append(out, c.Command[1:]...)
	}
	return append(out, c.Args...)
}
