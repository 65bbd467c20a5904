package analysis

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/stats"
)

// ErrNotStarted reports an experiment that has no phase to analyse yet.
var ErrNotStarted = errors.New("the experiment has not started: there is nothing to analyse yet")

// PlanFor builds the analysis of an experiment's current phase at time now:
// its variants (control first) and weights, the phase's time range (from
// its start to its end, or to now while it runs), its metrics in their
// roles, and the method its stopping rule calls for: the always-valid
// sequential test for a sequential experiment, which may be looked at any
// time, and the fixed-horizon test otherwise. method, when not empty,
// overrides that choice (for example "bayesian").
func PlanFor(e *flagmodel.Experiment, metrics []flagmodel.Metric, method stats.Method, now time.Time) (Plan, error) {
	ph := e.CurrentPhase()
	if ph == nil {
		return Plan{}, fmt.Errorf("experiment %q: %w", e.Key, ErrNotStarted)
	}
	to := now
	if !ph.StoppedAt.IsZero() && ph.StoppedAt.Before(now) {
		to = ph.StoppedAt
	}
	p := Plan{Env: e.Environment, Experiment: e.Key, Flag: e.Flag, Phase: ph.Number, Variants: e.Variants(),
		Weights: map[string]float64{}, From: ph.StartedAt, To: to}
	alpha, _ := e.Level()
	p.Alpha = alpha
	switch {
	case method != "":
		p.Method = method
	case e.Rule() == flagmodel.StoppingSequential:
		p.Method = stats.MethodSequential
	default:
		p.Method = stats.MethodFrequentist
	}
	weights := ph.Weights
	if len(weights) == 0 {
		weights = e.SplitWeights()
	}
	for _, w := range weights {
		p.Weights[w.Variant] = float64(w.Weight)
	}
	byKey := map[string]*flagmodel.Metric{}
	for i := range metrics {
		byKey[metrics[i].Key] = &metrics[i]
	}
	var errs []error
	add := func(key, role string) {
		m := byKey[key]
		if m == nil {
			errs = append(errs, fmt.Errorf("metric %q (%s) does not exist", key, role))
			return
		}
		am := Metric{Key: key, Role: role, Type: string(m.Type), Event: m.Event, HigherIsBetter: m.Better()}
		if m.Type == flagmodel.MetricRatio {
			am.Event, am.Denominator = m.Numerator, m.Denominator
		}
		var err error
		if am.Window, err = m.ConversionWindow.Parse(); err != nil {
			errs = append(errs, fmt.Errorf("metric %q: conversionWindow: %w", key, err))
		}
		if m.CUPED != nil {
			if am.CUPED, err = m.CUPED.Lookback.Parse(); err != nil {
				errs = append(errs, fmt.Errorf("metric %q: cuped.lookback: %w", key, err))
			}
		}
		p.Metrics = append(p.Metrics, am)
	}
	if e.Metrics.Primary != "" {
		add(e.Metrics.Primary, RolePrimary)
	}
	for _, k := range e.Metrics.Secondary {
		add(k, RoleSecondary)
	}
	for _, k := range e.Metrics.Guardrails {
		add(k, RoleGuardrail)
	}
	if err := errors.Join(errs...); err != nil {
		return Plan{}, fmt.Errorf("experiment %q: %w", e.Key, err)
	}
	return p, nil
}
