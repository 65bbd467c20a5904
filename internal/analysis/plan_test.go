package analysis_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
)

func experimentFixture() (*flagmodel.Experiment, []flagmodel.Metric) {
	lower := false
	e := &flagmodel.Experiment{Key: "checkout", Environment: "production", Flag: "checkout", Control: "old", Treatments: []string{"new"},
		StoppingRule: flagmodel.StoppingSequential, Alpha: 0.01,
		Metrics: flagmodel.ExperimentMetrics{Primary: "buy", Secondary: []string{"aov"}, Guardrails: []string{"latency"}},
		Phases: []flagmodel.Phase{
			{Number: 1, StartedAt: t0, StoppedAt: t0.Add(time.Hour)},
			{Number: 2, StartedAt: t0.Add(2 * time.Hour), Weights: flagmodel.Weights{{Variant: "old", Weight: 80000}, {Variant: "new", Weight: 20000}}},
		}}
	metrics := []flagmodel.Metric{
		{Key: "buy", Type: flagmodel.MetricConversion, Event: "purchase", ConversionWindow: "3d", CUPED: &flagmodel.CUPED{Lookback: "14d"}},
		{Key: "aov", Type: flagmodel.MetricRatio, Numerator: "revenue", Denominator: "order"},
		{Key: "latency", Type: flagmodel.MetricMean, Event: "page_load", HigherIsBetter: &lower},
	}
	return e, metrics
}

func TestPlanForAnalysesTheCurrentPhaseWithTheExperimentsDesign(t *testing.T) {
	e, metrics := experimentFixture()
	p, err := analysis.PlanFor(e, metrics, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase != 2 || !p.From.Equal(t0.Add(2*time.Hour)) || !p.To.Equal(now) || p.Method != stats.MethodSequential || p.Alpha != 0.01 {
		t.Fatalf("plan = %+v", p)
	}
	if p.Variants[0] != "old" || p.Weights["old"] != 80000 || p.Weights["new"] != 20000 {
		t.Fatalf("variants %v, weights %v", p.Variants, p.Weights)
	}
	want := []analysis.Metric{
		{Key: "buy", Role: analysis.RolePrimary, Type: "conversion", Event: "purchase", HigherIsBetter: true, Window: 72 * time.Hour, CUPED: 14 * 24 * time.Hour},
		{Key: "aov", Role: analysis.RoleSecondary, Type: "ratio", Event: "revenue", Denominator: "order", HigherIsBetter: true},
		{Key: "latency", Role: analysis.RoleGuardrail, Type: "mean", Event: "page_load", HigherIsBetter: false},
	}
	for i := range want {
		if p.Metrics[i] != want[i] {
			t.Errorf("metric %d = %+v, want %+v", i, p.Metrics[i], want[i])
		}
	}
}

func TestPlanForAStoppedPhaseEndsAtItsStopAndAMethodMayBeChosen(t *testing.T) {
	e, metrics := experimentFixture()
	e.Phases = e.Phases[:1]
	p, err := analysis.PlanFor(e, metrics, stats.MethodBayesian, now)
	if err != nil {
		t.Fatal(err)
	}
	if !p.To.Equal(t0.Add(time.Hour)) || p.Method != stats.MethodBayesian || p.Weights["old"] != 50000 {
		t.Fatalf("plan = %+v", p)
	}
}

func TestPlanForRefusesAnUnstartedExperimentAndMissingMetrics(t *testing.T) {
	e, metrics := experimentFixture()
	e.Phases = nil
	if _, err := analysis.PlanFor(e, metrics, "", now); !errors.Is(err, analysis.ErrNotStarted) {
		t.Fatalf("err = %v", err)
	}
	e, _ = experimentFixture()
	if _, err := analysis.PlanFor(e, nil, "", now); err == nil || !strings.Contains(err.Error(), `metric "buy" (primary) does not exist`) {
		t.Fatalf("err = %v", err)
	}
}
