package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
)

func analysed(t *testing.T, method stats.Method, control, treatment int64, mismatch bool) *analysis.Result {
	t.Helper()
	resp, err := stats.Analyze(stats.Request{Metric: stats.Metric{Type: stats.MetricProportion}, Method: method,
		Variants: []stats.Variant{{Key: "off", N: control, Sum: float64(control) / 10}, {Key: "on", N: treatment, Sum: float64(treatment) * 0.15}}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	res := &analysis.Result{Experiment: "checkout-test", Environment: "production", Phase: 1, AnalyzedAt: at, From: at.Add(-time.Hour), To: at,
		Units: []analysis.VariantUnits{{Variant: "off", Units: control}, {Variant: "on", Units: treatment}}, MultipleVariantUnits: 3,
		SRM: resp.SRM, Metrics: []analysis.MetricResult{{Key: "purchase-rate", Role: analysis.RolePrimary, Response: resp}}}
	res.SRM.Mismatch = mismatch
	if resp.Variants[1].Absolute != nil && resp.Variants[1].Absolute.PValue != nil {
		res.Family = []analysis.AdjustedPValue{{Metric: "purchase-rate", Variant: "on", PValue: *resp.Variants[1].Absolute.PValue, Holm: *resp.Variants[1].Absolute.PValue}}
	}
	return res
}

func TestResultsPrintUnitsTheSampleRatioAndOneTablePerMetric(t *testing.T) {
	var out bytes.Buffer
	if err := writeResults(&out, analysed(t, stats.MethodFrequentist, 3000, 3000, false)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"experiment checkout-test in production, phase 1", "off 3,000", "3 excluded: exposed to more than one variant",
		"sample ratio: ok", "purchase-rate (primary, proportion, frequentist)", "off (control)", "+50.00%", "(Holm)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestResultsWarnLoudlyOfASampleRatioMismatchAndShowBayesianColumns(t *testing.T) {
	var out bytes.Buffer
	if err := writeResults(&out, analysed(t, stats.MethodBayesian, 3000, 2000, true)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"SAMPLE RATIO MISMATCH", "do not trust these results", "CHANCE TO WIN", "RISK"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestResultsHistoryListsOneLinePerAnalysis(t *testing.T) {
	var out bytes.Buffer
	list := []analysis.Result{*analysed(t, stats.MethodSequential, 3000, 3000, false), *analysed(t, stats.MethodSequential, 1000, 1000, false)}
	if err := writeResultsHistory(&out, list); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "6,000") || !strings.Contains(lines[1], "purchase-rate") || !strings.Contains(lines[1], "+50.00%") {
		t.Fatalf("history:\n%s", out.String())
	}
}
