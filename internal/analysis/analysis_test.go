package analysis_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
)

// fakeSource answers with fixed aggregates per event name and records the
// queries it was asked.
type fakeSource struct {
	mu      sync.Mutex
	byEvent map[string]store.Aggregates
	queries map[string]store.AggregateQuery // by event
	err     error
}

func (f *fakeSource) AggregateExperiment(_ context.Context, q store.AggregateQuery) (store.Aggregates, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queries == nil {
		f.queries = map[string]store.AggregateQuery{}
	}
	f.queries[q.Event] = q
	return f.byEvent[q.Event], f.err
}

var (
	t0  = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now = t0.Add(14 * 24 * time.Hour)
)

func plan(metrics ...analysis.Metric) analysis.Plan {
	return analysis.Plan{Env: "production", Experiment: "checkout", Flag: "checkout", Phase: 1, Variants: []string{"control", "treatment"},
		Weights: map[string]float64{"control": 50, "treatment": 50}, From: t0, To: now, Metrics: metrics}
}

func TestAConversionMetricIsAnalysedAsAProportionWithTheExposedUnits(t *testing.T) {
	src := &fakeSource{byEvent: map[string]store.Aggregates{
		"purchase": {MultipleVariantUnits: 7, Variants: []store.VariantAggregate{
			{Variant: "control", Units: 10000, Sum: 1000, SumSquares: 1000},
			{Variant: "treatment", Units: 10100, Sum: 1212, SumSquares: 1212},
		}},
	}}
	res, err := analysis.Run(context.Background(), src, plan(analysis.Metric{Key: "conversion", Role: analysis.RolePrimary,
		Type: analysis.TypeConversion, Event: "purchase", HigherIsBetter: true, Window: 72 * time.Hour}), now)
	if err != nil {
		t.Fatal(err)
	}
	q := src.queries["purchase"]
	if q.Aggregation != store.AggregateConversion || q.Window != 72*time.Hour || !q.From.Equal(t0) || !q.To.Equal(now) || q.Experiment != "checkout" {
		t.Fatalf("query = %+v", q)
	}
	if res.MultipleVariantUnits != 7 || len(res.Units) != 2 || res.Units[1].Units != 10100 {
		t.Fatalf("units = %+v, multiple %d", res.Units, res.MultipleVariantUnits)
	}
	m := res.Metrics[0]
	if m.Metric != stats.MetricProportion || m.Control != "control" {
		t.Fatalf("metric result = %+v", m.Response)
	}
	tr := m.Variants[1]
	// The engine's own answer for the same sums: the mapping must not alter them.
	want, err := stats.Analyze(stats.Request{Metric: stats.Metric{Type: stats.MetricProportion}, Variants: []stats.Variant{
		{Key: "control", N: 10000, Sum: 1000, SumSquares: 1000}, {Key: "treatment", N: 10100, Sum: 1212, SumSquares: 1212}},
		Weights: map[string]float64{"control": 50, "treatment": 50}})
	if err != nil {
		t.Fatal(err)
	}
	if *tr.Absolute.PValue != *want.Variants[1].Absolute.PValue || tr.Relative.Estimate != want.Variants[1].Relative.Estimate {
		t.Fatalf("treatment = %+v, want %+v", tr, want.Variants[1])
	}
	if tr.Relative.Estimate < 0.19 || tr.Relative.Estimate > 0.21 {
		t.Fatalf("relative lift = %v, want 0.2", tr.Relative.Estimate)
	}
	if res.SRM.Mismatch {
		t.Fatalf("no sample-ratio mismatch expected: %+v", res.SRM)
	}
}

func TestAVariantWithoutUnitsIsNotEnoughDataAndFlagsTheSampleRatio(t *testing.T) {
	src := &fakeSource{byEvent: map[string]store.Aggregates{
		"revenue": {Variants: []store.VariantAggregate{{Variant: "control", Units: 5000, Sum: 5000, SumSquares: 20000}}},
	}}
	res, err := analysis.Run(context.Background(), src, plan(analysis.Metric{Key: "revenue", Role: analysis.RolePrimary,
		Type: analysis.TypeMean, Event: "revenue", HigherIsBetter: true}), now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SRM.Mismatch {
		t.Fatalf("5000 vs 0 units must be a sample-ratio mismatch: %+v", res.SRM)
	}
	tr := res.Metrics[0].Variants[1]
	if tr.Status != stats.StatusNotEnoughData || tr.N != 0 {
		t.Fatalf("treatment = %+v", tr)
	}
	for _, v := range res.Metrics[0].Variants {
		if math.IsNaN(v.Mean) || math.IsNaN(v.Variance) {
			t.Fatalf("NaN in %+v", v)
		}
	}
}

func TestPrimaryAndSecondaryPValuesAreAdjustedTogetherAndGuardrailsAreNot(t *testing.T) {
	agg := func(c, tr float64) store.Aggregates {
		return store.Aggregates{Variants: []store.VariantAggregate{
			{Variant: "control", Units: 10000, Sum: c, SumSquares: c}, {Variant: "treatment", Units: 10000, Sum: tr, SumSquares: tr}}}
	}
	src := &fakeSource{byEvent: map[string]store.Aggregates{"a": agg(1000, 1100), "b": agg(1000, 1030), "c": agg(1000, 1000)}}
	res, err := analysis.Run(context.Background(), src, plan(
		analysis.Metric{Key: "a", Role: analysis.RolePrimary, Type: analysis.TypeConversion, Event: "a", HigherIsBetter: true},
		analysis.Metric{Key: "b", Role: analysis.RoleSecondary, Type: analysis.TypeConversion, Event: "b", HigherIsBetter: true},
		analysis.Metric{Key: "c", Role: analysis.RoleGuardrail, Type: analysis.TypeConversion, Event: "c", HigherIsBetter: false},
	), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Family) != 2 {
		t.Fatalf("family = %+v, want the primary and the secondary metric", res.Family)
	}
	p := []float64{res.Family[0].PValue, res.Family[1].PValue}
	holm, bh := stats.Holm(p), stats.BenjaminiHochberg(p)
	for i, f := range res.Family {
		if f.Holm != holm[i] || f.BenjaminiHochberg != bh[i] || f.Holm < f.PValue {
			t.Fatalf("family[%d] = %+v", i, f)
		}
	}
	if res.Metrics[2].Role != analysis.RoleGuardrail || res.Metrics[2].Variants[1].Absolute == nil {
		t.Fatalf("guardrail = %+v", res.Metrics[2])
	}
}

func TestCUPEDAsksForTheCovariateExceptForRatios(t *testing.T) {
	src := &fakeSource{byEvent: map[string]store.Aggregates{}}
	lookback := 14 * 24 * time.Hour
	p := plan(
		analysis.Metric{Key: "rev", Role: analysis.RolePrimary, Type: analysis.TypeSum, Event: "rev", HigherIsBetter: true, CUPED: lookback},
		analysis.Metric{Key: "ctr", Role: analysis.RoleSecondary, Type: analysis.TypeRatio, Event: "click", Denominator: "view", HigherIsBetter: true, CUPED: lookback},
	)
	if _, err := analysis.Run(context.Background(), src, p, now); err != nil {
		t.Fatal(err)
	}
	if q := src.queries["rev"]; q.Covariate != lookback || q.Aggregation != store.AggregateSum {
		t.Fatalf("sum query = %+v", q)
	}
	if q := src.queries["click"]; q.Covariate != 0 || q.Aggregation != store.AggregateRatio || q.Denominator != "view" {
		t.Fatalf("ratio query = %+v", q)
	}
}

func TestABadPlanIsRefusedWithEveryProblem(t *testing.T) {
	p := analysis.Plan{Variants: []string{"control"}, From: now, To: now,
		Metrics: []analysis.Metric{{Key: "m", Type: "median"}, {Key: "r", Type: analysis.TypeRatio}}}
	_, err := analysis.Run(context.Background(), &fakeSource{}, p, now)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"environment, the experiment and its flag", "at least one treatment", "window", `unknown type "median"`, "denominator"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestAStoreErrorIsReturnedWithTheMetric(t *testing.T) {
	src := &fakeSource{err: store.ErrUnavailable}
	_, err := analysis.Run(context.Background(), src, plan(analysis.Metric{Key: "m", Type: analysis.TypeCount, Event: "e"}), now)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), `metric "m"`) {
		t.Fatalf("err = %v", err)
	}
}
