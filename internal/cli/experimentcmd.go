package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/weirhq/weir/flagmodel"
)

// experimentStep is the server's answer to an experiment write.
type experimentStep struct {
	Experiment flagmodel.Experiment `json:"experiment"`
	Version    int64                `json:"version"`
	Changed    bool                 `json:"changed"`
	Changes    []struct {
		Kind    string `json:"kind"`
		Key     string `json:"key"`
		Env     string `json:"env"`
		Version int64  `json:"version"`
	} `json:"changes"`
}

// flagVersion returns the new version of the flag state the step changed,
// or 0.
func (st experimentStep) flagVersion() int64 {
	for _, c := range st.Changes {
		if c.Kind == "flag-state" {
			return c.Version
		}
	}
	return 0
}

type experimentView struct {
	Experiment flagmodel.Experiment `json:"experiment"`
	Version    int64                `json:"version"`
}

type metricView struct {
	Metric  flagmodel.Metric `json:"metric"`
	Version int64            `json:"version"`
}

func newExperimentCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Create, run and decide experiments on a Weir server",
		Long: `An experiment tests a flag's variants in one environment:

  draft --start--> running --stop--> stopped --decide--> decided --archive--> archived

start adds the experiment's rule to the flag (after its own rules) and stop
removes it; each step is one audited change of the experiment and, when it
changes what the flag serves, of the flag. See docs/experiments.md.`,
		Args: cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(
		newExperimentCreateCmd(s, &r),
		newExperimentUpdateCmd(s, &r),
		newExperimentListCmd(s, &r),
		newExperimentGetCmd(s, &r),
		newExperimentStartCmd(s, &r),
		newExperimentStopCmd(s, &r),
		newExperimentDecideCmd(s, &r),
		newExperimentArchiveCmd(s, &r),
		newExperimentResultsCmd(s, &r),
	)
	return cmd
}

// readExperiment reads and checks an experiment file; its problems are
// printed like a flags file's and end the command with exit code 1.
func readExperiment(s streams, path string) (*flagmodel.Experiment, error) {
	data, name, err := readInput(s, path, flagmodel.MaxFileSize)
	if err != nil {
		return nil, err
	}
	e, err := flagmodel.ParseExperiment(data)
	if err != nil {
		return nil, printedProblems(s, name, parseProblems(err).problems)
	}
	// References are the server's to check; the definition is checked here.
	if problems := validationProblems(e.Validate(nil)); problems != nil {
		return nil, printedProblems(s, name, problems)
	}
	return e, nil
}

func newExperimentCreateCmd(s streams, r *remote) *cobra.Command {
	var file, reason, output string
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a draft experiment from a YAML or JSON file",
		Long: `Create reads one experiment (YAML or JSON), checks it, and creates it on the
server as a draft. The server also checks its references: the flag has a state
in the environment, the variants are the flag's, the metrics exist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			e, err := readExperiment(s, file)
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var st experimentStep
			raw, err := c.sendJSON(cmd.Context(), http.MethodPost, "/api/v1/experiments", map[string]any{"experiment": e, "reason": reason}, &st)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			return writeLine(s.out, "created experiment %s (draft, version %d): start it with weir experiment start %s", st.Experiment.Key, st.Version, st.Experiment.Key)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "experiment file (YAML or JSON), or - for stdin")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newExperimentUpdateCmd(s streams, r *remote) *cobra.Command {
	var file, reason, output string
	var dailyUnits int64
	cmd := &cobra.Command{
		Use:   "update -f FILE",
		Short: "Edit a draft, or change a running experiment's allocation or weights",
		Long: `Update replaces a draft's definition with the file's. For a running
experiment only allocation and weights may change: that starts a new phase,
with a new split seed, recorded with its time. Lifecycle fields (status,
sampleSize, phases, decision) may be left out of the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			if dailyUnits < 0 {
				return errors.New("--daily-units: a number of units, 0 or more")
			}
			e, err := readExperiment(s, file)
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var st experimentStep
			raw, err := c.sendJSON(cmd.Context(), http.MethodPut, pathf("/api/v1/experiments/%s", e.Key),
				map[string]any{"experiment": e, "reason": reason, "dailyUnits": dailyUnits}, &st)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			switch {
			case !st.Changed:
				return writeLine(s.out, "experiment %s already matches the file (version %d)", e.Key, st.Version)
			case st.flagVersion() != 0:
				p := st.Experiment.CurrentPhase()
				return writeLine(s.out, "experiment %s: phase %d started (seed %s), flag %s in %s now at version %d", e.Key, p.Number, p.Seed,
					st.Experiment.Flag, st.Experiment.Environment, st.flagVersion())
			}
			return writeLine(s.out, "updated experiment %s: version %d", e.Key, st.Version)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "experiment file (YAML or JSON), or - for stdin")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().Int64Var(&dailyUnits, "daily-units", 0, "units evaluating the flag per day, for a new phase's expected duration")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newExperimentListCmd(s streams, r *remote) *cobra.Command {
	var status, flagKey, env, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments with their flag, environment, status and phase",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"status": status, "flag": flagKey, "env": env} {
				if v != "" {
					q.Set(k, v)
				}
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: "/api/v1/experiments", query: q})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var list struct {
				Experiments []experimentView `json:"experiments"`
			}
			if err := decodeResponse(raw, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tFLAG\tENV\tSTATUS\tPHASE\tPRIMARY\tVERSION")
			for _, v := range list.Experiments {
				e := v.Experiment
				phase, primary := "-", e.Metrics.Primary
				if p := e.CurrentPhase(); p != nil {
					phase = strconv.Itoa(p.Number)
				}
				if primary == "" {
					primary = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Key, e.Flag, e.Environment, e.State(), phase, primary, v.Version)
			}
			if err := tw.Flush(); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only experiments with this status")
	cmd.Flags().StringVar(&flagKey, "flag", "", "only experiments of this flag")
	cmd.Flags().StringVar(&env, "env", "", "only experiments in this environment")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newExperimentGetCmd(s streams, r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show an experiment as YAML (the format create and update read)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getObject(cmd, s, r, output, pathf("/api/v1/experiments/%s", args[0]), func(raw []byte) (any, error) {
				var v experimentView
				err := decodeResponse(raw, &v)
				return v.Experiment, err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

// getObject GETs path and prints the response as JSON, or the object
// decode returns as YAML.
func getObject(cmd *cobra.Command, s streams, r *remote, output, path string, decode func(raw []byte) (any, error)) error {
	if err := checkOutput(output, "yaml", "json"); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: path})
	if err != nil {
		return err
	}
	if output == "json" {
		return writeRaw(s.out, raw)
	}
	v, err := decode(raw)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode YAML: %w", err)
	}
	return writeRaw(s.out, b.Bytes())
}

// runStep posts a lifecycle step and decodes the answer; with -o json it
// prints the answer as it came and returns nil.
func runStep(cmd *cobra.Command, s streams, r *remote, output, key, action string, body any) (*experimentStep, error) {
	if err := checkOutput(output, "text", "json"); err != nil {
		return nil, err
	}
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	var st experimentStep
	raw, err := c.sendJSON(cmd.Context(), http.MethodPost, pathf("/api/v1/experiments/%s/"+action, key), body, &st)
	if err != nil {
		return nil, err
	}
	if output == "json" {
		return nil, writeRaw(s.out, raw)
	}
	return &st, nil
}

func newExperimentStartCmd(s streams, r *remote) *cobra.Command {
	var reason, output string
	var dailyUnits int64
	cmd := &cobra.Command{
		Use:   "start KEY",
		Short: "Start a draft (or restart a stopped experiment in a new phase)",
		Long: `Start computes the sample size each variant needs for the primary metric and,
with --daily-units (units evaluating the flag per day in the environment), how
long collecting it takes. In the same commit it adds the experiment's rule to
the flag, after the flag's own rules: from then on the flag serves the
experiment's split to the experiment's share of units.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dailyUnits < 0 {
				return errors.New("--daily-units: a number of units, 0 or more")
			}
			st, err := runStep(cmd, s, r, output, args[0], "start", map[string]any{"reason": reason, "dailyUnits": dailyUnits})
			if err != nil || st == nil {
				return err
			}
			e := st.Experiment
			p := e.CurrentPhase()
			var b strings.Builder
			fmt.Fprintf(&b, "%s started in %s (phase %d): flag %s now at version %d\n", e.Key, e.Environment, p.Number, e.Flag, st.flagVersion())
			var sizes []string
			for _, su := range e.SampleSize {
				sizes = append(sizes, su.Variant+" "+grouped(su.Units))
			}
			fmt.Fprintf(&b, "  sample size: %s (%s units)\n", strings.Join(sizes, ", "), grouped(e.SampleSize.Total()))
			if e.ExpectedDuration != "" {
				fmt.Fprintf(&b, "  expected duration: %s at %s units a day\n", e.ExpectedDuration, grouped(dailyUnits))
			}
			_, err = io.WriteString(s.out, b.String())
			return writeErr(err)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().Int64Var(&dailyUnits, "daily-units", 0, "units evaluating the flag per day, for the expected duration")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	return cmd
}

func newExperimentStopCmd(s streams, r *remote) *cobra.Command {
	var reason, output string
	cmd := &cobra.Command{
		Use:   "stop KEY --reason TEXT",
		Short: "Stop a running experiment: its rule leaves the flag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why the experiment stops (it goes into the audit log)")
			}
			st, err := runStep(cmd, s, r, output, args[0], "stop", map[string]any{"reason": reason})
			if err != nil || st == nil {
				return err
			}
			e := st.Experiment
			if v := st.flagVersion(); v != 0 {
				return writeLine(s.out, "%s stopped: its rule left flag %s in %s (now version %d); decide it with weir experiment decide %s", e.Key, e.Flag, e.Environment, v, e.Key)
			}
			return writeLine(s.out, "%s stopped (flag %s in %s had no rule of it left)", e.Key, e.Flag, e.Environment)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func newExperimentDecideCmd(s streams, r *remote) *cobra.Command {
	var outcome, variant, reason, output string
	var setDefault bool
	cmd := &cobra.Command{
		Use:   "decide KEY --outcome ship|rollback|iterate [--variant V] --reason TEXT",
		Short: "Record the decision about a stopped experiment",
		Long: `Decide records the outcome of a stopped experiment, who decided and why. A
ship decision names the winning variant; with --set-default it also becomes the
flag's default serve in the experiment's environment, in the same commit.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch flagmodel.Outcome(outcome) {
			case flagmodel.OutcomeShip:
				if variant == "" {
					return errors.New("--variant is required to ship: name the winning variant")
				}
			case flagmodel.OutcomeRollback, flagmodel.OutcomeIterate:
				if variant != "" || setDefault {
					return fmt.Errorf("--variant and --set-default only go with --outcome ship")
				}
			default:
				return fmt.Errorf("--outcome %q: want ship, rollback or iterate", outcome)
			}
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: it is the decision's record")
			}
			st, err := runStep(cmd, s, r, output, args[0], "decide",
				map[string]any{"outcome": outcome, "variant": variant, "setDefault": setDefault, "reason": reason})
			if err != nil || st == nil {
				return err
			}
			e, d := st.Experiment, st.Experiment.Decision
			line := fmt.Sprintf("%s decided: %s", e.Key, d.Outcome)
			if d.Variant != "" {
				line += " " + d.Variant
			}
			if v := st.flagVersion(); v != 0 {
				line += fmt.Sprintf("; flag %s in %s now serves %s by default (version %d)", e.Flag, e.Environment, d.Variant, v)
			}
			return writeLine(s.out, "%s", line)
		},
	}
	cmd.Flags().StringVar(&outcome, "outcome", "", "ship, rollback or iterate")
	cmd.Flags().StringVar(&variant, "variant", "", "the shipped variant (ship)")
	cmd.Flags().BoolVar(&setDefault, "set-default", false, "make the shipped variant the flag's default in the experiment's environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the decision's record and the audit log (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("outcome")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func newExperimentArchiveCmd(s streams, r *remote) *cobra.Command {
	var reason, output string
	cmd := &cobra.Command{
		Use:   "archive KEY",
		Short: "Archive a decided experiment, or a draft that will not run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := runStep(cmd, s, r, output, args[0], "archive", map[string]any{"reason": reason})
			if err != nil || st == nil {
				return err
			}
			return writeLine(s.out, "%s archived (version %d)", st.Experiment.Key, st.Version)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	return cmd
}

func newMetricCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "metric",
		Short: "Create, list and show the metrics experiments measure",
		Long: `A metric turns the track events of a unit into the unit's value: conversion
(did it send the event), mean, sum or count of the event's values, or the
ratio of two events' sums. Metrics can also be declared in a flags file under
metrics: and applied with weir apply.`,
		Args: cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(newMetricCreateCmd(s, &r), newMetricListCmd(s, &r), newMetricGetCmd(s, &r))
	return cmd
}

func newMetricCreateCmd(s streams, r *remote) *cobra.Command {
	var file, reason, output string
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a metric from a YAML or JSON file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			data, name, err := readInput(s, file, flagmodel.MaxFileSize)
			if err != nil {
				return err
			}
			m, err := flagmodel.ParseMetric(data)
			if err != nil {
				return printedProblems(s, name, parseProblems(err).problems)
			}
			if problems := validationProblems(m.Validate()); problems != nil {
				return printedProblems(s, name, problems)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			var res changeResult
			raw, err := c.sendJSON(cmd.Context(), http.MethodPost, "/api/v1/metrics", map[string]any{"metric": m, "reason": reason}, &res)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			version := int64(1)
			if len(res.Versions) > 0 {
				version = res.Versions[0]
			}
			return writeLine(s.out, "created metric %s (%s, version %d)", m.Key, m.Type, version)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "metric file (YAML or JSON), or - for stdin")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json (the server's response)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newMetricListCmd(s streams, r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List metrics with their type, events and direction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: "/api/v1/metrics"})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var list struct {
				Metrics []metricView `json:"metrics"`
			}
			if err := decodeResponse(raw, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tTYPE\tEVENTS\tBETTER\tVERSION")
			for _, v := range list.Metrics {
				m := v.Metric
				better := "higher"
				if !m.Better() {
					better = "lower"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Key, m.Type, strings.Join(m.Events(), " / "), better, v.Version)
			}
			return writeErr(tw.Flush())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newMetricGetCmd(s streams, r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show a metric as YAML (the format create reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return getObject(cmd, s, r, output, pathf("/api/v1/metrics/%s", args[0]), func(raw []byte) (any, error) {
				var v metricView
				err := decodeResponse(raw, &v)
				return v.Metric, err
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

// writeLine prints one formatted line.
func writeLine(w io.Writer, format string, args ...any) error {
	_, err := fmt.Fprintf(w, format+"\n", args...)
	return writeErr(err)
}

func writeErr(err error) error {
	if err != nil {
		return envError{fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// grouped writes n with thousands separators: 31234 → "31,234".
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + grouped(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
