package analysis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
)

// Source computes per-variant aggregates of one metric in the database.
type Source interface {
	AggregateExperiment(ctx context.Context, q store.AggregateQuery) (store.Aggregates, error)
}

// Roles of a metric in an experiment.
const (
	RolePrimary   = "primary"
	RoleSecondary = "secondary"
	RoleGuardrail = "guardrail"
)

// Metric types, as metric definitions name them.
const (
	TypeConversion = "conversion"
	TypeMean       = "mean"
	TypeSum        = "sum"
	TypeCount      = "count"
	TypeRatio      = "ratio"
)

// Metric is one metric to analyse.
type Metric struct {
	Key  string
	Role string
	// Type is conversion, mean, sum, count or ratio.
	Type           string
	Event          string
	Denominator    string
	HigherIsBetter bool
	// Window, when > 0, counts only events within this long after a unit's
	// first exposure (a conversion window).
	Window time.Duration
	// CUPED, when > 0, adjusts a conversion, mean, sum or count metric with
	// the same metric measured over this long before each unit's first
	// exposure (ratios are not adjusted).
	CUPED time.Duration
}

// Plan is one analysis of an experiment.
type Plan struct {
	Env        string
	Experiment string
	// Flag is the flag the experiment serves.
	Flag  string
	Phase int
	// Variants lists the experiment's variants, control first.
	Variants []string
	// Weights are the configured traffic shares per variant (any scale),
	// for the sample-ratio check; equal when nil.
	Weights          map[string]float64
	Method           stats.Method
	Alpha            float64
	SequentialTuning float64
	Prior            *stats.Prior
	// From and To bound the exposures analysed: the phase's start and the
	// analysis time (or the phase's end).
	From, To time.Time
	Metrics  []Metric
}

// Result is one analysis of an experiment. Each metric's result has the
// shape of `weir analyze` output, plus the metric's key and role.
type Result struct {
	Experiment  string    `json:"experiment"`
	Environment string    `json:"environment"`
	Phase       int       `json:"phase"`
	AnalyzedAt  time.Time `json:"analyzedAt"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	// Units counts the analysed units per variant (control first).
	Units []VariantUnits `json:"units"`
	// MultipleVariantUnits counts units excluded for having been exposed to
	// more than one variant.
	MultipleVariantUnits int64 `json:"multipleVariantUnits"`
	// SRM is the sample-ratio check of the units against the weights.
	SRM     stats.SRM      `json:"srm"`
	Metrics []MetricResult `json:"metrics"`
	// Family lists the p-values of the primary and secondary metrics'
	// treatments, adjusted together (Holm–Bonferroni for the family-wise
	// error rate, Benjamini–Hochberg for the false discovery rate).
	// Guardrails are safety checks and are not part of the family.
	Family []AdjustedPValue `json:"family,omitempty"`
}

// VariantUnits is a variant's number of analysed units.
type VariantUnits struct {
	Variant string `json:"variant"`
	Units   int64  `json:"units"`
}

// MetricResult is one metric's analysis.
type MetricResult struct {
	Key  string `json:"key"`
	Role string `json:"role"`
	stats.Response
}

// AdjustedPValue is one treatment's p-value on one metric, adjusted over
// the family.
type AdjustedPValue struct {
	Metric            string  `json:"metric"`
	Variant           string  `json:"variant"`
	PValue            float64 `json:"pValue"`
	Holm              float64 `json:"holm"`
	BenjaminiHochberg float64 `json:"benjaminiHochberg"`
}

// Run analyses every metric of the plan at time now.
func Run(ctx context.Context, src Source, p Plan, now time.Time) (*Result, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	res := &Result{Experiment: p.Experiment, Environment: p.Env, Phase: p.Phase, AnalyzedAt: now, From: p.From, To: p.To}
	// The metrics' aggregations are independent queries, each a pass over
	// the experiment's exposures and the metric's events: they run side by
	// side, as many at a time as there are CPUs.
	aggs := make([]store.Aggregates, len(p.Metrics))
	errs := make([]error, len(p.Metrics))
	sem := make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), len(p.Metrics))))
	var wg sync.WaitGroup
	for i, m := range p.Metrics {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			aggs[i], errs[i] = src.AggregateExperiment(ctx, p.query(m))
		}()
	}
	wg.Wait()
	for i, m := range p.Metrics {
		if errs[i] != nil {
			return nil, fmt.Errorf("analyse experiment %q, metric %q: %w", p.Experiment, m.Key, errs[i])
		}
		agg := aggs[i]
		req := p.request(m, agg)
		resp, err := stats.Analyze(req)
		if err != nil {
			return nil, fmt.Errorf("analyse experiment %q, metric %q: %w", p.Experiment, m.Key, err)
		}
		if i == 0 {
			// Every metric analyses the same exposed units; the first query
			// gives their counts and the sample-ratio check.
			res.MultipleVariantUnits = agg.MultipleVariantUnits
			for _, v := range req.Variants {
				res.Units = append(res.Units, VariantUnits{Variant: v.Key, Units: v.N})
			}
			res.SRM = resp.SRM
		}
		res.Metrics = append(res.Metrics, MetricResult{Key: m.Key, Role: m.Role, Response: resp})
	}
	res.Family = family(res.Metrics)
	return res, nil
}

func (p *Plan) validate() error {
	var errs []error
	if p.Env == "" || p.Experiment == "" || p.Flag == "" {
		errs = append(errs, errors.New("the environment, the experiment and its flag are required"))
	}
	if len(p.Variants) < 2 {
		errs = append(errs, fmt.Errorf("an experiment needs a control and at least one treatment, got %d variants", len(p.Variants)))
	}
	if !p.To.After(p.From) {
		errs = append(errs, fmt.Errorf("the analysis window [%s, %s) is empty", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339)))
	}
	if len(p.Metrics) == 0 {
		errs = append(errs, errors.New("the experiment has no metrics to analyse"))
	}
	for _, m := range p.Metrics {
		if aggregation(m.Type) == "" {
			errs = append(errs, fmt.Errorf("metric %q: unknown type %q", m.Key, m.Type))
		}
		if m.Type == TypeRatio && m.Denominator == "" {
			errs = append(errs, fmt.Errorf("metric %q: a ratio needs a denominator event", m.Key))
		}
	}
	return errors.Join(errs...)
}

func aggregation(metricType string) store.Aggregation {
	switch metricType {
	case TypeConversion:
		return store.AggregateConversion
	case TypeMean, TypeSum:
		return store.AggregateSum
	case TypeCount:
		return store.AggregateCount
	case TypeRatio:
		return store.AggregateRatio
	}
	return ""
}

func (p *Plan) query(m Metric) store.AggregateQuery {
	q := store.AggregateQuery{Env: p.Env, Flag: p.Flag, Experiment: p.Experiment, From: p.From, To: p.To, Variants: p.Variants,
		Aggregation: aggregation(m.Type), Event: m.Event, Denominator: m.Denominator, Window: m.Window}
	if m.CUPED > 0 && m.Type != TypeRatio {
		q.Covariate = m.CUPED
	}
	return q
}

func (p *Plan) request(m Metric, agg store.Aggregates) stats.Request {
	higher := m.HigherIsBetter
	req := stats.Request{Method: p.Method, Alpha: p.Alpha, SequentialTuning: p.SequentialTuning, Prior: p.Prior,
		Control: p.Variants[0], Metric: stats.Metric{HigherIsBetter: &higher}, CUPED: m.CUPED > 0 && m.Type != TypeRatio}
	switch m.Type {
	case TypeConversion:
		req.Metric.Type = stats.MetricProportion
	case TypeRatio:
		req.Metric.Type = stats.MetricRatio
	default:
		req.Metric.Type = stats.MetricMean
	}
	if p.Weights != nil {
		req.Weights = map[string]float64{}
		for _, v := range p.Variants {
			req.Weights[v] = p.Weights[v]
		}
	}
	byName := map[string]store.VariantAggregate{}
	for _, a := range agg.Variants {
		byName[a.Variant] = a
	}
	for _, v := range p.Variants {
		a := byName[v] // a variant without units analyses as n = 0: "not enough data"
		sv := stats.Variant{Key: v, N: a.Units, Sum: a.Sum, SumSquares: a.SumSquares,
			DenominatorSum: a.DenominatorSum, DenominatorSumSquares: a.DenominatorSumSquares, SumProduct: a.SumProduct}
		if req.CUPED {
			sv.CovariateSum, sv.CovariateSumSquares, sv.CovariateSumProduct = a.CovariateSum, a.CovariateSumSquares, a.CovariateSumProduct
		}
		req.Variants = append(req.Variants, sv)
	}
	return req
}

// family adjusts the p-values of primary and secondary metrics' treatments
// together. A treatment without a p-value (not enough data, or Bayesian)
// is left out.
func family(metrics []MetricResult) []AdjustedPValue {
	var out []AdjustedPValue
	for _, m := range metrics {
		if m.Role == RoleGuardrail {
			continue
		}
		for _, v := range m.Variants {
			if v.Key == m.Control || v.Absolute == nil || v.Absolute.PValue == nil {
				continue
			}
			out = append(out, AdjustedPValue{Metric: m.Key, Variant: v.Key, PValue: *v.Absolute.PValue})
		}
	}
	if len(out) == 0 {
		return nil
	}
	ps := make([]float64, len(out))
	for i := range out {
		ps[i] = out[i].PValue
	}
	holm, bh := stats.Holm(ps), stats.BenjaminiHochberg(ps)
	for i := range out {
		out[i].Holm, out[i].BenjaminiHochberg = holm[i], bh[i]
	}
	return out
}
