package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/plan"
)

func newFlagCmd(s streams) *cobra.Command {
	var r remote
	cmd := &cobra.Command{
		Use:   "flag",
		Short: "List, show, enable and disable flags on a Weir server",
		Args:  cobra.NoArgs,
	}
	addRemoteFlags(cmd, &r)
	cmd.AddCommand(newFlagListCmd(s, &r), newFlagGetCmd(s, &r), newToggleCmd(s, &r, true), newToggleCmd(s, &r, false))
	return cmd
}

// flagListing is the response of GET /api/v1/flags.
type flagListing struct {
	Flags []struct {
		Key          string `json:"key"`
		Kind         string `json:"kind"`
		Type         string `json:"type"`
		Environments map[string]struct {
			Enabled bool  `json:"enabled"`
			Version int64 `json:"version"`
		} `json:"environments"`
	} `json:"flags"`
}

// environmentListing is the response of GET /api/v1/environments.
type environmentListing struct {
	Environments []struct {
		Key string `json:"key"`
	} `json:"environments"`
}

func newFlagListCmd(s streams, r *remote) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List flags with their state in every environment",
		Long: `List prints one row per flag: its key, type and kind, then for each
environment "on" or "off" and the state's version (v3), or "-" when the flag
has no state there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: "/api/v1/flags"})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var flags flagListing
			if err := decodeResponse(raw, &flags); err != nil {
				return err
			}
			var envs environmentListing
			if err := c.getJSON(cmd.Context(), "/api/v1/environments", nil, &envs); err != nil {
				return err
			}
			envKeys := make([]string, len(envs.Environments))
			for i, e := range envs.Environments {
				envKeys[i] = e.Key
			}
			if err := writeFlagTable(s.out, flags, envKeys); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func writeFlagTable(w io.Writer, flags flagListing, envs []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "KEY\tTYPE\tKIND")
	for _, e := range envs {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(e))
	}
	fmt.Fprintln(tw)
	for _, f := range flags.Flags {
		kind := f.Kind
		if kind == "" {
			kind = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", f.Key, f.Type, kind)
		for _, e := range envs {
			st, ok := f.Environments[e]
			switch {
			case !ok:
				fmt.Fprint(tw, "\t-")
			case st.Enabled:
				fmt.Fprintf(tw, "\ton v%d", st.Version)
			default:
				fmt.Fprintf(tw, "\toff v%d", st.Version)
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func newFlagGetCmd(s streams, r *remote) *cobra.Command {
	var env, output string
	cmd := &cobra.Command{
		Use:   "get KEY [--env ENV]",
		Short: "Show a flag, or its state in one environment",
		Long: `Get prints a flag as a flags file fragment (YAML, the default) that apply
accepts; with --env only that environment's state is included. With -o json it
prints the server's response: the state and its version with --env, the whole
flag without.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			key := args[0]
			if output == "json" {
				path := pathf("/api/v1/flags/%s", key)
				if env != "" {
					path = pathf("/api/v1/flags/%s/environments/%s", key, env)
				}
				raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: path})
				if err != nil {
					return err
				}
				return writeRaw(s.out, raw)
			}
			var view struct {
				Flag flagmodel.Flag `json:"flag"`
			}
			if err := c.getJSON(cmd.Context(), pathf("/api/v1/flags/%s", key), nil, &view); err != nil {
				return err
			}
			if env != "" {
				st, ok := view.Flag.Environments[env]
				if !ok {
					return fmt.Errorf("flag %q has no state in environment %q", key, env)
				}
				view.Flag.Environments = map[string]*flagmodel.FlagState{env: st}
			}
			if err := flagmodel.EncodeYAML(s.out, &flagmodel.File{Flags: []flagmodel.Flag{view.Flag}}); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "show only the state in this environment")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func newToggleCmd(s streams, r *remote, enable bool) *cobra.Command {
	verb, done := "disable", "disabled"
	if enable {
		verb, done = "enable", "enabled"
	}
	var env, reason string
	cmd := &cobra.Command{
		Use:   verb + " KEY --env ENV --reason TEXT",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a flag in one environment (the kill switch)",
		Long: `The kill switch: ` + verb + ` turns a flag ` + map[bool]string{true: "on", false: "off"}[enable] + ` in one environment and
keeps its rules and targets, so the opposite command restores exactly what was
served. The reason is required and goes into the audit log. It prints the
state's new version.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why (it goes into the audit log)")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			key := args[0]
			var res changeResult
			if _, err := c.sendJSON(cmd.Context(), http.MethodPost, pathf("/api/v1/flags/%s/environments/%s/"+verb, key, env),
				map[string]string{"reason": reason}, &res); err != nil {
				return err
			}
			if !res.Changed {
				_, err = fmt.Fprintf(s.out, "%s was already %s in %s (version %d)\n", key, done, env, stateVersion(res, key, env))
			} else {
				_, err = fmt.Fprintf(s.out, "%s %s in %s: version %d\n", key, done, env, stateVersion(res, key, env))
			}
			if err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// stateVersion returns the version of one flag state after a change: the
// new version when it changed, the current one when it did not.
func stateVersion(res changeResult, key, env string) int64 {
	changed := 0
	for _, it := range res.Plan {
		if it.Op == plan.OpUnchanged {
			if it.Key == key && it.Env == env {
				return it.Version
			}
			continue
		}
		// Versions lists the new versions of the changed items in plan order.
		if it.Key == key && it.Env == env && changed < len(res.Versions) {
			return res.Versions[changed]
		}
		changed++
	}
	return 0
}

// historyResponse is the response of the history endpoint.
type historyResponse struct {
	Flag     string `json:"flag"`
	Env      string `json:"env"`
	Versions []struct {
		Version int64     `json:"version"`
		Deleted bool      `json:"deleted"`
		Actor   string    `json:"actor"`
		Action  string    `json:"action"`
		Reason  string    `json:"reason"`
		Time    time.Time `json:"time"`
		Diff    []string  `json:"diff"`
	} `json:"versions"`
}

func newHistoryCmd(s streams) *cobra.Command {
	var r remote
	var env, output string
	cmd := &cobra.Command{
		Use:   "history KEY --env ENV",
		Short: "Show every version of a flag's state in one environment",
		Long: `History lists the versions of a flag's state in one environment, oldest
first: version, time, actor, action and reason, with the changed fields
indented under each.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), request{method: http.MethodGet, path: pathf("/api/v1/flags/%s/environments/%s/history", args[0], env)})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			var h historyResponse
			if err := decodeResponse(raw, &h); err != nil {
				return err
			}
			if err := writeHistory(s.out, h); err != nil {
				return envError{fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	addRemoteFlags(cmd, &r)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func writeHistory(w io.Writer, h historyResponse) error {
	var b strings.Builder
	for _, v := range h.Versions {
		fmt.Fprintf(&b, "version %d  %s  %s  %s", v.Version, v.Time.UTC().Format(time.RFC3339), v.Actor, v.Action)
		if v.Deleted {
			b.WriteString("  (deleted)")
		}
		if v.Reason != "" {
			fmt.Fprintf(&b, "  %s", strconv.Quote(v.Reason))
		}
		b.WriteByte('\n')
		for _, d := range v.Diff {
			b.WriteString("    ")
			b.WriteString(d)
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "%s of %s in %s\n", plural(len(h.Versions), "version"), h.Flag, h.Env)
	_, err := io.WriteString(w, b.String())
	return err
}

func newRollbackCmd(s streams) *cobra.Command {
	var r remote
	var env, to, reason string
	cmd := &cobra.Command{
		Use:   "rollback KEY --env ENV --to VERSION|previous --reason TEXT",
		Short: "Restore an earlier version of a flag's state in one environment",
		Long: `Rollback makes an earlier version of a flag's state current again, as a new
version (history is never rewritten). --to takes a version number from
weir history, or "previous" for the version before the current one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why (it goes into the audit log)")
			}
			if to != "previous" {
				if n, err := strconv.ParseInt(to, 10, 64); err != nil || n < 1 {
					return fmt.Errorf("--to %q: want a version number or \"previous\"", to)
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			key := args[0]
			var res changeResult
			if _, err := c.sendJSON(cmd.Context(), http.MethodPost, pathf("/api/v1/flags/%s/environments/%s/rollback", key, env),
				map[string]string{"to": to, "reason": reason}, &res); err != nil {
				return err
			}
			return writeRollback(s.out, res, key, env, to)
		},
	}
	addRemoteFlags(cmd, &r)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&to, "to", "", `version to restore, or "previous"`)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (required)")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func writeRollback(w io.Writer, res changeResult, key, env, to string) error {
	var b strings.Builder
	v := stateVersion(res, key, env)
	if to == "previous" {
		// The plan item carries the version the rollback started from.
		for _, it := range res.Plan {
			if it.Key == key && it.Env == env && it.Version > 1 {
				to = strconv.FormatInt(it.Version-1, 10)
			}
		}
	}
	if !res.Changed {
		fmt.Fprintf(&b, "%s in %s already matches version %s: nothing to change (version %d)\n", key, env, to, v)
	} else {
		fmt.Fprintf(&b, "rolled back %s in %s to version %s: now version %d\n", key, env, to, v)
		for _, it := range res.Plan {
			if it.Key == key && it.Env == env {
				for _, d := range it.Diff {
					b.WriteString("    ")
					b.WriteString(d)
					b.WriteByte('\n')
				}
			}
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return envError{fmt.Errorf("write output: %w", err)}
	}
	return nil
}
