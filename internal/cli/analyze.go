package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weirhq/weir/internal/stats"
)

func newAnalyzeCmd(s streams) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "analyze [-f FILE.json]",
		Short: "Analyse an experiment from sufficient statistics (JSON in, JSON out)",
		Long: `Analyse per-variant sufficient statistics computed anywhere (for example in a
data warehouse): frequentist, always-valid sequential or Bayesian, with SRM
check, relative and absolute lift and CUPED. The input format is documented in
docs/statistics.md. Reads standard input without -f.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			data, _, err := readInput(s, file, 16<<20)
			if err != nil {
				return err
			}
			req, err := stats.ParseRequest(data)
			if err != nil {
				return err
			}
			res, err := stats.Analyze(req)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(s.out)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "analysis request (JSON); - for standard input")
	return cmd
}

func newSampleSizeCmd(s streams) *cobra.Command {
	var file, solve string
	cmd := &cobra.Command{
		Use:   "samplesize [-f DESIGN.json] [--solve units|power|mde]",
		Short: "Sample size, power or minimum detectable effect of a planned experiment",
		Long: `Answer planning questions for proportion and mean metrics. The design is JSON:
{"metric":"proportion","baseline":0.1,"mde":0.05,"relative":true,"alpha":0.05,"power":0.8}
--solve units (default) needs mde; --solve power needs mde and units;
--solve mde needs units. Reads standard input without -f.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			data, _, err := readInput(s, file, 16<<20)
			if err != nil {
				return err
			}
			d, err := stats.ParseDesign(data)
			if err != nil {
				return err
			}
			var plan stats.Plan
			switch solve {
			case "units":
				plan, err = stats.SampleSize(d)
			case "power":
				plan, err = stats.Power(d)
			case "mde":
				plan, err = stats.MinimumDetectableEffect(d)
			default:
				return fmt.Errorf("--solve %q: want units, power or mde", solve)
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(s.out)
			enc.SetIndent("", "  ")
			return enc.Encode(plan)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "design (JSON); - for standard input")
	cmd.Flags().StringVar(&solve, "solve", "units", "what to compute: units, power or mde")
	return cmd
}
