package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/plan"
)

// changeResult is the server's answer to every write: the plan and, when
// something was committed, the new versions.
type changeResult struct {
	Changed  bool        `json:"changed"`
	Plan     []plan.Item `json:"plan"`
	Versions []int64     `json:"versions"`
}

type applyOptions struct {
	file    string
	dryRun  bool
	prune   bool
	reason  string
	verbose bool
	output  string
}

func newApplyCmd(s streams) *cobra.Command {
	var o applyOptions
	var r remote
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply a flags file to a Weir server and show what changed",
		Long: `Apply validates a flags file locally, then sends it to the server, which plans
it against the current configuration, validates the result and commits every
change at once. Objects the file names are created or updated to match it;
objects it does not name are left alone unless --prune is given. Applying the
same file twice changes nothing.

The plan is printed one line per object:

  + create flag-state new-checkout [production]
  ~ update flag payments-v2
  - delete segment old-beta
  = unchanged environment production   (only with -v)

with the changed fields indented under each created or updated object, then a
summary line. An invalid file is reported in full and nothing is sent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(o.output, "text", "json"); err != nil {
				return err
			}
			return runApply(cmd.Context(), s, &r, o)
		},
	}
	addRemoteFlags(cmd, &r)
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "flags file (YAML or JSON), or - for stdin")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the plan without applying it")
	f.BoolVar(&o.prune, "prune", false, "delete flags and segments that the file does not name")
	f.StringVar(&o.reason, "reason", "", "why, for the audit log")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list unchanged objects too")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func runApply(ctx context.Context, s streams, r *remote, o applyOptions) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	data, name, err := readInput(s, o.file, flagmodel.MaxFileSize)
	if err != nil {
		return err
	}
	f, err := flagmodel.Parse(data)
	if err != nil {
		return printedProblems(s, name, parseProblems(err).problems)
	}
	if problems := validationProblems(f.Validate()); problems != nil {
		return printedProblems(s, name, problems)
	}
	q := url.Values{}
	q.Set("dryRun", strconv.FormatBool(o.dryRun))
	q.Set("prune", strconv.FormatBool(o.prune))
	if o.reason != "" {
		q.Set("reason", o.reason)
	}
	contentType := "application/yaml"
	if flagmodel.DetectFormat(data) == flagmodel.FormatJSON {
		contentType = "application/json"
	}
	raw, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/apply", query: q, body: data, contentType: contentType})
	if err != nil {
		return err
	}
	if o.output == "json" {
		return writeRaw(s.out, raw)
	}
	var res changeResult
	if err := decodeResponse(raw, &res); err != nil {
		return err
	}
	if err := writePlan(s.out, res, o.dryRun, o.verbose); err != nil {
		return envError{fmt.Errorf("write plan: %w", err)}
	}
	return nil
}

// planSymbols are the line prefixes of each operation.
var planSymbols = map[plan.Op]string{
	plan.OpCreate:    "+",
	plan.OpUpdate:    "~",
	plan.OpDelete:    "-",
	plan.OpUnchanged: "=",
}

// writePlan prints a change result: one line per item (unchanged ones only
// when verbose) with its diff indented under it, then a summary line.
func writePlan(w io.Writer, res changeResult, dryRun, verbose bool) error {
	var b strings.Builder
	counts := map[plan.Op]int{}
	for _, it := range res.Plan {
		counts[it.Op]++
		if it.Op == plan.OpUnchanged && !verbose {
			continue
		}
		sym := planSymbols[it.Op]
		if sym == "" {
			sym = "?"
		}
		fmt.Fprintf(&b, "%s %s %s\n", sym, it.Op, describeItem(it))
		if it.Op == plan.OpDelete {
			continue // the diff only repeats the line
		}
		for _, d := range it.Diff {
			b.WriteString("    ")
			b.WriteString(d)
			b.WriteByte('\n')
		}
	}
	b.WriteString(planSummary(counts, res.Changed, dryRun))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// describeItem names a plan item: "flag-state new-checkout [production]".
func describeItem(it plan.Item) string {
	s := string(it.Kind) + " " + it.Key
	if it.Env != "" {
		s += " [" + it.Env + "]"
	}
	return s
}

// planSummary is the last line of a printed plan: the counts, then what
// happened.
func planSummary(counts map[plan.Op]int, changed, dryRun bool) string {
	parts := []string{
		fmt.Sprintf("%d created", counts[plan.OpCreate]),
		fmt.Sprintf("%d changed", counts[plan.OpUpdate]),
	}
	if counts[plan.OpDelete] > 0 {
		parts = append(parts, fmt.Sprintf("%d deleted", counts[plan.OpDelete]))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", counts[plan.OpUnchanged]))
	outcome := "applied"
	switch {
	case counts[plan.OpCreate]+counts[plan.OpUpdate]+counts[plan.OpDelete] == 0:
		outcome = "nothing to change"
	case dryRun:
		outcome = "dry run: nothing applied"
	case !changed:
		outcome = "not applied"
	}
	return strings.Join(parts, ", ") + ": " + outcome
}

func newExportCmd(s streams) *cobra.Command {
	var r remote
	var env, output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print the server's configuration as a flags file",
		Long: `Export prints the server's whole configuration (or one environment's, with
--env) as a flags file that apply accepts unchanged: applying it to the same
server changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			q := url.Values{"format": {output}}
			if env != "" {
				q.Set("env", env)
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: "/api/v1/export", query: q})
			if err != nil {
				return err
			}
			return writeRaw(s.out, raw)
		},
	}
	addRemoteFlags(cmd, &r)
	cmd.Flags().StringVar(&env, "env", "", "export only this environment")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}
