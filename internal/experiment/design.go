package experiment

import (
	"math"
	"strings"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
)

// MaxExpectedDays is the longest expected duration a start accepts: an
// experiment that needs more than ten years at the known traffic cannot
// answer its question, so a larger allocation or MDE is needed.
const MaxExpectedDays = 3650

// size sets e's sample size per variant for its primary metric, and its
// expected duration when the daily traffic is known (clearing it
// otherwise). The primary metric and the baseline must have been checked.
//
// The sample size is the fixed-horizon one (two-sided z-test, each
// treatment against control, at e's alpha and power). A sequential
// stopping rule reads results earlier but, to detect the same effect,
// needs somewhat more units than this figure.
func size(cfg *store.Config, e *flagmodel.Experiment, traffic Traffic) error {
	var m *flagmodel.Metric
	for i := range cfg.Metrics {
		if cfg.Metrics[i].Value.Key == e.Metrics.Primary {
			m = &cfg.Metrics[i].Value
		}
	}
	d := stats.Design{Metric: stats.MetricMean, Baseline: e.Baseline.Mean, StdDev: e.Baseline.StdDev, MDE: e.MDE, Relative: true}
	if m != nil && m.Type == flagmodel.MetricConversion {
		d = stats.Design{Metric: stats.MetricProportion, Baseline: e.Baseline.Rate, MDE: e.MDE, Relative: true}
	}
	d.Alpha, d.Power = e.Level()
	weights := e.SplitWeights()
	for _, w := range weights {
		d.Weights = append(d.Weights, float64(w.Weight))
	}
	p, err := stats.SampleSize(d)
	if err != nil {
		return designProblems(err)
	}
	if p.Problem != "" {
		return &flagmodel.ValidationError{Problems: []flagmodel.Problem{{Where: "mde", Message: p.Problem}}}
	}
	e.SampleSize = make(flagmodel.SampleSizes, len(weights))
	for i, w := range weights {
		e.SampleSize[i] = flagmodel.VariantUnits{Variant: w.Variant, Units: p.UnitsPerArm[i]}
	}
	e.ExpectedDuration = ""
	if traffic.DailyUnits <= 0 {
		return nil
	}
	eligible := float64(traffic.DailyUnits) * float64(e.Share()) / flagmodel.WeightScale
	for _, env := range cfg.Environments {
		if h := env.Value.Holdout; env.Value.Key == e.Environment && h != nil {
			eligible *= 1 - float64(h.Weight)/flagmodel.WeightScale
		}
	}
	days := math.Ceil(float64(p.TotalUnits) / eligible)
	if days > MaxExpectedDays {
		return &flagmodel.ValidationError{Problems: []flagmodel.Problem{{Where: "mde",
			Message: "at the known traffic the sample size takes more than ten years to collect: raise the allocation or the minimum detectable effect"}}}
	}
	e.ExpectedDuration = flagmodel.Days(int64(max(days, 1)))
	return nil
}

// designProblems turns the statistics engine's "field: message" lines into
// problems located at the experiment's fields.
func designProblems(err error) error {
	fields := map[string]string{"baseline": "baseline", "stdDev": "baseline.stdDev", "mde": "mde",
		"alpha": "alpha", "power": "power", "weights": "weights"}
	var out []flagmodel.Problem
	for _, line := range strings.Split(err.Error(), "\n") {
		field, msg, ok := strings.Cut(line, ": ")
		where, known := fields[field]
		if !ok || !known {
			where, msg = "mde", line
		}
		out = append(out, flagmodel.Problem{Where: where, Message: msg})
	}
	return &flagmodel.ValidationError{Problems: out}
}
