package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// statusText is how the table shows a status.
var statusText = map[Status]string{
	Honoured:    "honoured",
	Difference:  "difference",
	NoOp:        "no-op",
	NotHonoured: "NOT HONOURED",
}

// NotHonouredCount is the number of findings Weir does not honour.
func (r *Report) NotHonouredCount() int { return r.Summary.NotHonoured }

// SummaryLine counts each status in one line.
func (r *Report) SummaryLine() string {
	s := r.Summary
	return fmt.Sprintf("%d Ingress(es), %d ConfigMap(s): %d honoured, %d honoured with a difference, %d no-op, %d not honoured",
		len(r.Ingresses), len(r.ConfigMaps), s.Honoured, s.Difference, s.NoOp, s.NotHonoured)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as tables for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "Ingresses of class %q: %d", r.Class, len(r.Ingresses))
	if r.OtherClasses > 0 {
		fmt.Fprintf(b, " (%d of other classes not examined)", r.OtherClasses)
	}
	b.WriteString("\n")
	for _, ir := range r.Ingresses {
		fmt.Fprintf(b, "\n%s/%s%s\n", ir.Namespace, ir.Name, ingressNote(ir))
		writeFindings(b, ir.Findings, "no annotations: served as ingress-nginx serves it")
	}
	for _, cm := range r.ConfigMaps {
		fmt.Fprintf(b, "\nConfigMap %s/%s (Weir reads it with --configmap %s/%s)\n", cm.Namespace, cm.Name, cm.Namespace, cm.Name)
		writeFindings(b, cm.Findings, "no keys")
	}
	writeChange(b, r.Change)
	b.WriteString("\nWarnings:\n")
	for _, wn := range r.Warnings {
		fmt.Fprintf(b, "  - %s\n", wn)
	}
	fmt.Fprintf(b, "\n%s\n", r.SummaryLine())
	// Rows without a detail would end in the table's padding.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func ingressNote(ir IngressReport) string {
	switch {
	case ir.Canary && len(ir.PairsWith) > 0:
		return " (canary of " + strings.Join(ir.PairsWith, ", ") + ")"
	case ir.Canary:
		return " (canary without a main Ingress)"
	case len(ir.PairsWith) > 0:
		return " (canaries: " + strings.Join(ir.PairsWith, ", ") + ")"
	}
	return ""
}

func writeFindings(b *strings.Builder, fs []Finding, none string) {
	if len(fs) == 0 {
		fmt.Fprintf(b, "  %s\n", none)
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		detail := f.Detail
		if f.Link != "" {
			detail += " (" + f.Link + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Key, statusText[f.Status], detail)
	}
	tw.Flush()
}

func writeChange(b *strings.Builder, c Change) {
	b.WriteString("\nTo move the Ingresses to Weir:\n")
	step := 1
	if c.IngressClass != "" {
		fmt.Fprintf(b, "  %d. Create Weir's IngressClass (kubectl apply -f -):\n", step)
		for _, l := range strings.Split(strings.TrimSuffix(c.IngressClass, "\n"), "\n") {
			fmt.Fprintf(b, "       %s\n", l)
		}
		step++
	}
	if len(c.Moves) == 0 {
		fmt.Fprintf(b, "  %d. Nothing to move.\n", step)
		return
	}
	fmt.Fprintf(b, "  %d. Move each group in one step (ingressClassName %s):\n", step, c.ClassName)
	for _, m := range c.Moves {
		fmt.Fprintf(b, "       # %s\n", strings.Join(m.Ingresses, ", "))
		for _, cmd := range m.Commands {
			fmt.Fprintf(b, "       %s\n", cmd)
		}
	}
}
