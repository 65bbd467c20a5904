package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/weirhq/weir/flagmodel"
)

// validateReport is the JSON output of `weir validate -o json`.
type validateReport struct {
	Valid    bool            `json:"valid"`
	Problems []problemReport `json:"problems"`
	// Summary is absent when the file does not parse.
	Summary *fileSummary `json:"summary,omitempty"`
}

type problemReport struct {
	Where   string `json:"where"`
	Message string `json:"message"`
}

// fileSummary counts what a flags file holds.
type fileSummary struct {
	Environments int `json:"environments"`
	Segments     int `json:"segments"`
	Flags        int `json:"flags"`
	// EnabledFlags maps each environment to the number of flags enabled in
	// it.
	EnabledFlags map[string]int `json:"enabledFlags"`
	envOrder     []string
}

func summarize(f *flagmodel.File) *fileSummary {
	s := &fileSummary{
		Segments:     len(f.Segments),
		Flags:        len(f.Flags),
		EnabledFlags: map[string]int{},
		envOrder:     environmentKeys(f),
	}
	s.Environments = len(s.envOrder)
	for _, e := range s.envOrder {
		s.EnabledFlags[e] = 0
	}
	for _, fl := range f.Flags {
		for e, st := range fl.Environments {
			if st != nil && st.Enabled {
				s.EnabledFlags[e]++
			}
		}
	}
	return s
}

// paragraph renders the summary as one sentence-like paragraph.
func (s *fileSummary) paragraph(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is valid: %s, %s, %s.", name,
		plural(s.Environments, "environment"), plural(s.Segments, "segment"), plural(s.Flags, "flag"))
	if len(s.envOrder) > 0 {
		b.WriteString(" Enabled flags:")
		for i, e := range s.envOrder {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %s %d of %d", e, s.EnabledFlags[e], s.Flags)
		}
		b.WriteByte('.')
	}
	b.WriteByte('\n')
	return b.String()
}

func newValidateCmd(s streams) *cobra.Command {
	var file, output string
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a flags file and report every problem in it",
		Long: `Validate parses a flags file (YAML or JSON) and checks it the way the server
would before applying it. It exits 0 and prints a summary when the file is
valid, and exits 1 after listing every problem, one per line, each prefixed
with the file name, when it is not. Problems go to stderr and the summary to
stdout; with -o json a single report goes to stdout in both cases. A file that
cannot be read at all (missing, a directory) is reported on stderr with exit
code 1, in both formats.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q (want text or json)", output)
			}
			return runValidate(s, file, output == "json")
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "flags file to check (YAML or JSON), or - for stdin")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func runValidate(s streams, path string, asJSON bool) error {
	ff, err := loadFlagsFile(s, path)
	var problems []flagmodel.Problem
	var summary *fileSummary
	var pe problemsError
	switch {
	case errors.As(err, &pe):
		problems = pe.problems
	case err != nil:
		return err
	default:
		summary = summarize(ff.file)
		problems = validationProblems(ff.file.Validate())
	}
	if asJSON {
		if err := writeValidateReport(s.out, problems, summary); err != nil {
			return envError{fmt.Errorf("write report: %w", err)}
		}
	} else if len(problems) == 0 {
		if _, err := io.WriteString(s.out, summary.paragraph(ff.name)); err != nil {
			return envError{fmt.Errorf("write summary: %w", err)}
		}
	} else if err := printProblems(s.err, ff.name, problems); err != nil {
		return envError{fmt.Errorf("write problems: %w", err)}
	}
	if len(problems) > 0 {
		return silentExit{code: ExitUserError}
	}
	return nil
}

func writeValidateReport(w io.Writer, problems []flagmodel.Problem, summary *fileSummary) error {
	r := validateReport{Valid: len(problems) == 0, Problems: make([]problemReport, len(problems)), Summary: summary}
	for i, p := range problems {
		r.Problems[i] = problemReport{Where: p.Where, Message: p.Message}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
