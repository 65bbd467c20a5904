package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Design describes a planned experiment for sample-size, power and
// minimum-detectable-effect calculations. The calculations use the two-sided
// fixed-horizon z-test at level Alpha, for each treatment against control
// separately (no multiple-testing correction: lower Alpha to add one).
//
// Metric is MetricProportion (Baseline is the control conversion rate) or
// MetricMean (Baseline is the control mean and StdDev the per-unit standard
// deviation, assumed equal in all arms). MDE is the effect to detect, relative
// to |Baseline| when Relative is true, absolute otherwise; for proportions the
// treatment rate is Baseline + effect, so the sign matters. Weights are the
// traffic weights of the arms, control first; two equal arms when empty.
// Units is the total number of units over all arms (for Power and
// MinimumDetectableEffect).
type Design struct {
	Metric   MetricType `json:"metric"`
	Baseline float64    `json:"baseline"`
	StdDev   float64    `json:"stdDev,omitempty"`
	MDE      float64    `json:"mde,omitempty"`
	Relative bool       `json:"relative,omitempty"`
	Alpha    float64    `json:"alpha,omitempty"`
	Power    float64    `json:"power,omitempty"`
	Weights  []float64  `json:"weights,omitempty"`
	Units    int64      `json:"units,omitempty"`
}

// Plan is the answer to a Design. UnitsPerArm and TotalUnits are the sample
// size (rounded up per arm), Power the power each treatment comparison reaches
// at least, MDE the effect in the Design's scale. Problem is non-empty when
// the question has no answer (for example no effect within a valid conversion
// rate reaches the power); the numbers are then zero.
type Plan struct {
	UnitsPerArm []int64 `json:"unitsPerArm,omitempty"`
	TotalUnits  int64   `json:"totalUnits,omitempty"`
	Power       float64 `json:"power"`
	MDE         float64 `json:"mde"`
	Problem     string  `json:"problem,omitempty"`
}

// maxPlannedUnits bounds a sample size so that unit counts stay exact in
// float64 and far from int64 overflow; no experiment gets near it.
const maxPlannedUnits = 1e15

// Default design values.
const (
	// DefaultAlpha is the significance level when none is given.
	DefaultAlpha = 0.05
	// DefaultPower is the target power of a design when none is given.
	DefaultPower = 0.8
)

// ParseDesign decodes a JSON Design strictly (unknown fields are errors),
// applies the defaults and validates it, reporting every problem at once.
func ParseDesign(data []byte) (Design, error) {
	var d Design
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Design{}, fmt.Errorf("decode design: %w", err)
	}
	if dec.More() {
		return Design{}, errors.New("decode design: unexpected data after the JSON object")
	}
	d = d.withDefaults()
	if err := d.Validate(); err != nil {
		return Design{}, err
	}
	return d, nil
}

func (d Design) withDefaults() Design {
	if d.Alpha == 0 {
		d.Alpha = DefaultAlpha
	}
	if d.Power == 0 {
		d.Power = DefaultPower
	}
	if len(d.Weights) == 0 {
		d.Weights = []float64{1, 1}
	}
	return d
}

// Validate reports every invalid field of a design (after defaults) at once.
// The MDE, Power and Units fields are only checked when set, because each
// calculation leaves one of them out.
func (d Design) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch d.Metric {
	case MetricProportion:
		if !(d.Baseline > 0 && d.Baseline < 1) {
			bad("baseline", "a conversion rate must be between 0 and 1 (exclusive), got %g", d.Baseline)
		}
	case MetricMean:
		if !finite(d.Baseline) {
			bad("baseline", "must be a finite number")
		}
		if !(d.StdDev > 0) || !finite(d.StdDev) {
			bad("stdDev", "must be > 0 for a mean metric, got %g", d.StdDev)
		}
	default:
		bad("metric", "must be %q or %q, got %q", MetricProportion, MetricMean, d.Metric)
	}
	if d.Relative && d.Baseline == 0 {
		bad("relative", "a relative MDE needs a non-zero baseline")
	}
	if !finite(d.MDE) {
		bad("mde", "must be a finite number")
	}
	if !(d.Alpha > 0 && d.Alpha < 1) {
		bad("alpha", "must be between 0 and 1 (exclusive), got %g", d.Alpha)
	}
	if !(d.Power > 0 && d.Power < 1) {
		bad("power", "must be between 0 and 1 (exclusive), got %g", d.Power)
	} else if d.Power <= d.Alpha {
		bad("power", "must exceed alpha (%g), the power of a zero effect", d.Alpha)
	}
	if len(d.Weights) < 2 {
		bad("weights", "needs at least two arms, got %d", len(d.Weights))
	}
	for i, w := range d.Weights {
		if !(w > 0) || !finite(w) {
			bad(fmt.Sprintf("weights[%d]", i), "must be > 0, got %g", w)
		}
	}
	if d.Units < 0 {
		bad("units", "must be ≥ 0, got %d", d.Units)
	}
	return errors.Join(errs...)
}

// SampleSize returns the number of units needed so that every treatment,
// compared with control, reaches d.Power against an effect of d.MDE. It solves
// the two-sided power equation exactly (including the far tail) and rounds
// each arm up.
func SampleSize(d Design) (Plan, error) {
	d = d.withDefaults()
	if err := d.Validate(); err != nil {
		return Plan{}, err
	}
	if d.MDE == 0 {
		return Plan{}, errors.New("mde: must be non-zero to compute a sample size")
	}
	total, problem := d.requiredUnits()
	if problem != "" {
		return Plan{Problem: problem}, nil
	}
	if !(total <= maxPlannedUnits) {
		return Plan{Problem: fmt.Sprintf("the effect is too small: more than %g units would be needed", float64(maxPlannedUnits))}, nil
	}
	plan := Plan{MDE: d.MDE}
	var wsum float64
	for _, w := range d.Weights {
		wsum += w
	}
	plan.UnitsPerArm = make([]int64, len(d.Weights))
	counts := make([]float64, len(d.Weights))
	for i, w := range d.Weights {
		plan.UnitsPerArm[i] = int64(math.Ceil(total * w / wsum))
		plan.TotalUnits += plan.UnitsPerArm[i]
		counts[i] = float64(plan.UnitsPerArm[i])
	}
	plan.Power = d.minPower(d.absoluteEffect(d.MDE), counts)
	return plan, nil
}

// Power returns the power of the design with d.Units units split by the
// weights: the smallest power over the treatment comparisons.
func Power(d Design) (Plan, error) {
	d = d.withDefaults()
	if err := d.Validate(); err != nil {
		return Plan{}, err
	}
	if d.Units < 2*int64(len(d.Weights)) {
		return Plan{Problem: notEnough("needs at least two units per arm")}, nil
	}
	delta := d.absoluteEffect(d.MDE)
	if p := d.treatmentRateProblem(delta); p != "" {
		return Plan{Problem: p}, nil
	}
	return Plan{TotalUnits: d.Units, MDE: d.MDE, Power: d.minPower(delta, d.allocate(float64(d.Units)))}, nil
}

// MinimumDetectableEffect returns the smallest positive effect (in the
// design's scale, relative or absolute) that every treatment comparison
// detects with power d.Power when d.Units units are split by the weights.
func MinimumDetectableEffect(d Design) (Plan, error) {
	d = d.withDefaults()
	if err := d.Validate(); err != nil {
		return Plan{}, err
	}
	if d.Units < 2*int64(len(d.Weights)) {
		return Plan{Problem: notEnough("needs at least two units per arm")}, nil
	}
	counts := d.allocate(float64(d.Units))
	hi := math.Inf(1)
	if d.Metric == MetricProportion {
		hi = 1 - d.Baseline
	}
	reaches := func(delta float64) bool { return d.minPower(delta, counts) >= d.Power }
	// Bracket: the normal-approximation MDE with the largest variance is
	// always enough for means; for proportions the bracket is the rate limit.
	upper := (zq(1-d.Alpha/2) + zq(d.Power)) * d.maxSE(counts, 0) * 4
	if upper > hi {
		upper = hi * (1 - 1e-12)
	}
	if !reaches(upper) {
		if d.Metric == MetricProportion {
			return Plan{Problem: "no effect that keeps the treatment rate below 1 reaches the power"}, nil
		}
		return Plan{Problem: "no effect within floating-point range reaches the power"}, nil
	}
	lo := 0.0
	for range 200 {
		mid := (lo + upper) / 2
		if reaches(mid) {
			upper = mid
		} else {
			lo = mid
		}
	}
	mde := upper
	if d.Relative {
		mde /= math.Abs(d.Baseline)
	}
	return Plan{TotalUnits: d.Units, MDE: mde, Power: d.minPower(upper, counts)}, nil
}

// absoluteEffect converts the design's effect scale to an absolute difference.
func (d Design) absoluteEffect(mde float64) float64 {
	if d.Relative {
		return mde * math.Abs(d.Baseline)
	}
	return mde
}

func (d Design) treatmentRateProblem(delta float64) string {
	if d.Metric != MetricProportion {
		return ""
	}
	if p := d.Baseline + delta; !(p > 0 && p < 1) {
		return fmt.Sprintf("the treatment rate baseline+effect = %g is not between 0 and 1", p)
	}
	return ""
}

// variances returns the per-unit variance of control and of a treatment whose
// mean is shifted by delta.
func (d Design) variances(delta float64) (control, treatment float64) {
	if d.Metric == MetricProportion {
		p1, p2 := d.Baseline, d.Baseline+delta
		return p1 * (1 - p1), p2 * (1 - p2)
	}
	v := d.StdDev * d.StdDev
	return v, v
}

// allocate splits total units by the weights (fractional).
func (d Design) allocate(total float64) []float64 {
	var wsum float64
	for _, w := range d.Weights {
		wsum += w
	}
	out := make([]float64, len(d.Weights))
	for i, w := range d.Weights {
		out[i] = total * w / wsum
	}
	return out
}

// powerAt is the two-sided z-test power Φ(δ/SE − z) + Φ(−δ/SE − z).
func (d Design) powerAt(delta, nc, nt float64) float64 {
	vc, vt := d.variances(delta)
	se := math.Sqrt(vc/nc + vt/nt)
	z := zq(1 - d.Alpha/2)
	return distuv.UnitNormal.CDF(delta/se-z) + distuv.UnitNormal.CDF(-delta/se-z)
}

func (d Design) minPower(delta float64, counts []float64) float64 {
	p := 1.0
	for _, nt := range counts[1:] {
		p = math.Min(p, d.powerAt(delta, counts[0], nt))
	}
	return p
}

func (d Design) maxSE(counts []float64, delta float64) float64 {
	vc, vt := d.variances(delta)
	if d.Metric == MetricProportion {
		vc, vt = 0.25, 0.25
	}
	se := 0.0
	for _, nt := range counts[1:] {
		se = math.Max(se, math.Sqrt(vc/counts[0]+vt/nt))
	}
	return se
}

// requiredUnits is the (fractional) total number of units at which the
// weakest treatment comparison reaches the target power.
func (d Design) requiredUnits() (float64, string) {
	delta := d.absoluteEffect(d.MDE)
	if p := d.treatmentRateProblem(delta); p != "" {
		return 0, p
	}
	reaches := func(total float64) bool { return d.minPower(delta, d.allocate(total)) >= d.Power }
	// The one-tail normal approximation ignores the far tail's power, so it
	// always reaches the target and brackets the exact answer from above.
	vc, vt := d.variances(delta)
	shares := d.allocate(1)
	worst := 0.0
	for _, s := range shares[1:] {
		worst = math.Max(worst, vc/shares[0]+vt/s)
	}
	z := zq(1-d.Alpha/2) + zq(d.Power)
	hi := z * z * worst / (delta * delta)
	for i := 0; i < 200 && !reaches(hi); i++ {
		hi *= 2
	}
	if !reaches(hi) {
		return 0, "no sample size reaches the power"
	}
	lo := 0.0
	for range 200 {
		mid := (lo + hi) / 2
		if reaches(mid) {
			hi = mid
		} else {
			lo = mid
		}
		if hi-lo <= 1e-9*hi {
			break
		}
	}
	return hi, ""
}

func zq(p float64) float64 { return distuv.UnitNormal.Quantile(p) }
