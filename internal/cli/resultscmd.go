package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
)

func newExperimentResultsCmd(s streams, r *remote) *cobra.Command {
	var output, method string
	var save, history bool
	var limit int
	cmd := &cobra.Command{
		Use:   "results KEY",
		Short: "Analyse an experiment's current phase: per metric and variant, lift, interval, p-value, SRM",
		Long: `results analyses the experiment's current phase from the events stored so far
(the per-unit aggregation runs in the database) and prints one table per
metric. -o json prints the analysis document: per metric the same shape as
'weir analyze' output, plus the metric's key and role.

--save also stores the analysis in the experiment's history; --history lists
the stored analyses instead, newest first. The method follows the
experiment's stopping rule (sequential: always-valid intervals that allow
looking at any time; fixed: the fixed-horizon test), unless --method says
otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			req := request{method: http.MethodGet, path: pathf("/api/v1/experiments/%s/results", args[0]), query: url.Values{}}
			switch {
			case history:
				req.path = pathf("/api/v1/experiments/%s/results/history", args[0])
				req.query.Set("limit", strconv.Itoa(limit))
			case save:
				req.method = http.MethodPost
			}
			if method != "" {
				req.query.Set("method", method)
			}
			raw, err := c.do(cmd.Context(), req)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeRaw(s.out, raw)
			}
			if history {
				var list struct {
					Analyses []analysis.Result `json:"analyses"`
				}
				if err := decodeResponse(raw, &list); err != nil {
					return err
				}
				return writeResultsHistory(s.out, list.Analyses)
			}
			var res analysis.Result
			if err := decodeResponse(raw, &res); err != nil {
				return err
			}
			return writeResults(s.out, &res)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&method, "method", "", "frequentist, sequential or bayesian (default: from the stopping rule)")
	cmd.Flags().BoolVar(&save, "save", false, "store the analysis in the experiment's history")
	cmd.Flags().BoolVar(&history, "history", false, "list the stored analyses, newest first")
	cmd.Flags().IntVar(&limit, "limit", 20, "with --history, how many analyses")
	return cmd
}

// writeResults prints an analysis as a few readable tables.
func writeResults(w io.Writer, res *analysis.Result) error {
	fmt.Fprintf(w, "experiment %s in %s, phase %d: %s to %s\n", res.Experiment, res.Environment, res.Phase,
		res.From.Format("2006-01-02 15:04"), res.To.Format("2006-01-02 15:04 MST"))
	var units []string
	for _, u := range res.Units {
		units = append(units, fmt.Sprintf("%s %s", u.Variant, grouped(u.Units)))
	}
	fmt.Fprintf(w, "units: %v", units)
	if res.MultipleVariantUnits > 0 {
		fmt.Fprintf(w, " (%s excluded: exposed to more than one variant)", grouped(res.MultipleVariantUnits))
	}
	fmt.Fprintln(w)
	if res.SRM.Mismatch {
		fmt.Fprintf(w, "SAMPLE RATIO MISMATCH: p = %.2g < 0.001 — the split is not what was configured; do not trust these results until the cause is found\n", res.SRM.PValue)
	} else {
		fmt.Fprintf(w, "sample ratio: ok (p = %.3g)\n", res.SRM.PValue)
	}
	adjusted := map[[2]string]analysis.AdjustedPValue{}
	for _, f := range res.Family {
		adjusted[[2]string{f.Metric, f.Variant}] = f
	}
	for _, m := range res.Metrics {
		fmt.Fprintf(w, "\n%s (%s, %s, %s)\n", m.Key, m.Role, m.Metric, m.Method)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		bayes := m.Method == stats.MethodBayesian
		if bayes {
			fmt.Fprintln(tw, "VARIANT\tUNITS\tMEAN\tLIFT\tINTERVAL\tCHANCE TO WIN\tRISK")
		} else {
			fmt.Fprintln(tw, "VARIANT\tUNITS\tMEAN\tLIFT\tINTERVAL\tP-VALUE\tADJUSTED")
		}
		for _, v := range m.Variants {
			if v.Key == m.Control {
				fmt.Fprintf(tw, "%s (control)\t%s\t%.4g\t\t\t\t\n", v.Key, grouped(v.N), v.Mean)
				continue
			}
			if v.Relative == nil {
				fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t\t\t\n", v.Key, grouped(v.N), v.Mean, v.Problem)
				continue
			}
			rel := v.Relative
			interval := fmt.Sprintf("[%+.2f%%, %+.2f%%]", 100*rel.CILow, 100*rel.CIHigh)
			lift := fmt.Sprintf("%+.2f%%", 100*rel.Estimate)
			switch {
			case bayes && v.ChanceToWin != nil && v.Risk != nil:
				fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t%s\t%.1f%%\t%.3g%%\n", v.Key, grouped(v.N), v.Mean, lift, interval, 100**v.ChanceToWin, 100*v.Risk.Treatment)
			case rel.PValue != nil:
				adj := ""
				if a, ok := adjusted[[2]string{m.Key, v.Key}]; ok {
					adj = fmt.Sprintf("%.3g (Holm)", a.Holm)
				}
				fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t%s\t%.3g\t%s\n", v.Key, grouped(v.N), v.Mean, lift, interval, *rel.PValue, adj)
			default:
				fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t%s\t\t\n", v.Key, grouped(v.N), v.Mean, lift, interval)
			}
		}
		if err := tw.Flush(); err != nil {
			return writeErr(err)
		}
	}
	return nil
}

func writeResultsHistory(w io.Writer, list []analysis.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ANALYSED AT\tPHASE\tUNITS\tSRM\tPRIMARY\tLIFT\tINTERVAL")
	for _, res := range list {
		var units int64
		for _, u := range res.Units {
			units += u.Units
		}
		srm := "ok"
		if res.SRM.Mismatch {
			srm = "MISMATCH"
		}
		primary, lift, interval := "-", "", ""
		for _, m := range res.Metrics {
			if m.Role != analysis.RolePrimary {
				continue
			}
			primary = m.Key
			for _, v := range m.Variants {
				if v.Key != m.Control && v.Relative != nil {
					lift = fmt.Sprintf("%+.2f%%", 100*v.Relative.Estimate)
					interval = fmt.Sprintf("[%+.2f%%, %+.2f%%]", 100*v.Relative.CILow, 100*v.Relative.CIHigh)
					break
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", res.AnalyzedAt.Format("2006-01-02 15:04:05"), res.Phase, grouped(units), srm, primary, lift, interval)
	}
	return writeErr(tw.Flush())
}
