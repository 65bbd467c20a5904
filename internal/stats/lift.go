package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Lift is a point estimate of the treatment effect together with the variance
// of that estimate, before any interval is built. DF is the Welch–Satterthwaite
// degrees of freedom for a t reference distribution (+Inf means normal).
// Problem is non-empty when the data cannot support the estimate; the numbers
// are then zero.
type Lift struct {
	Estimate float64
	Variance float64
	DF       float64
	Problem  string
}

// OK reports whether the lift carries a usable estimate.
func (l Lift) OK() bool { return l.Problem == "" }

// SE is the standard error of the estimate.
func (l Lift) SE() float64 { return math.Sqrt(l.Variance) }

// Effect is an interval estimate of a lift: the estimate, its standard error,
// the interval bounds and a p-value for "no effect". One-sided intervals have
// one infinite bound. Problem is non-empty (and the numbers zero) when there is
// not enough data.
type Effect struct {
	Estimate float64
	SE       float64
	CILow    float64
	CIHigh   float64
	PValue   float64
	Problem  string
}

// OK reports whether the effect carries a usable result.
func (e Effect) OK() bool { return e.Problem == "" }

// Side chooses a two-sided or a one-sided test.
type Side int

const (
	// TwoSided tests "no effect" against any effect; the interval is finite.
	TwoSided Side = iota
	// Greater tests against "treatment greater than control"; the interval
	// is [low, +Inf).
	Greater
	// Less tests against "treatment less than control"; the interval is
	// (−Inf, high].
	Less
)

// NotEnoughData is the prefix of every Problem produced by this package, so
// callers can recognise it without parsing the reason that follows.
const NotEnoughData = "not enough data"

func notEnough(format string, args ...any) string {
	return NotEnoughData + ": " + fmt.Sprintf(format, args...)
}

// AbsoluteLift is the difference of means Δ = ȳ_t − ȳ_c with variance
// V = v_t/n_t + v_c/n_c (arms independent) and Welch–Satterthwaite degrees of
// freedom ν = V² / ((v_t/n_t)²/(n_t−1) + (v_c/n_c)²/(n_c−1)).
func AbsoluteLift(control, treatment Summary) Lift {
	if p := pairProblem(control, treatment); p != "" {
		return Lift{Problem: p}
	}
	vc := control.Variance / float64(control.N)
	vt := treatment.Variance / float64(treatment.N)
	return finishLift(treatment.Mean-control.Mean, vc+vt, welchDF(vc, vt, control.N, treatment.N))
}

// RelativeLift is Δ_r = (ȳ_t − ȳ_c)/|ȳ_c|: its sign always follows the
// absolute difference, also for a negative control mean. Its variance is the
// delta-method variance with independent arms,
//
//	V_r = v_t/(n_t·ȳ_c²) + v_c·ȳ_t²/(n_c·ȳ_c⁴),
//
// and its degrees of freedom are those of the absolute difference.
func RelativeLift(control, treatment Summary) Lift {
	if p := pairProblem(control, treatment); p != "" {
		return Lift{Problem: p}
	}
	if control.Mean == 0 {
		return Lift{Problem: notEnough("control mean is zero, so the relative lift is undefined")}
	}
	vc := control.Variance / float64(control.N)
	vt := treatment.Variance / float64(treatment.N)
	return relativeFromParts(treatment.Mean-control.Mean, control.Mean, vt, vc, welchDF(vc, vt, control.N, treatment.N))
}

// relativeFromParts divides an absolute difference by |c| and propagates the
// variance with the delta method. vt is the variance of the treatment term,
// vc the variance of the control term when it enters with unit weight; the
// control term is then scaled by k = 1 + Δ/c because c also appears in the
// denominator (k = ȳ_t/ȳ_c without covariate adjustment).
func relativeFromParts(diff, c, vt, vc, df float64) Lift {
	k := 1 + diff/c
	v := (vt + k*k*vc) / (c * c)
	return finishLift(diff/math.Abs(c), v, df)
}

// finishLift returns the lift, or "not enough data" when rounding or
// degenerate input left no finite, positive variance.
func finishLift(est, v, df float64) Lift {
	if !finite(est) || !finite(v) || !(v > 0) {
		return Lift{Problem: notEnough("the effect has no usable variance")}
	}
	if math.IsNaN(df) || df <= 0 {
		df = math.Inf(1)
	}
	return Lift{Estimate: est, Variance: v, DF: df}
}

func pairProblem(control, treatment Summary) string {
	if p := control.usable(); p != "" {
		return notEnough("control %s", p)
	}
	if p := treatment.usable(); p != "" {
		return notEnough("treatment %s", p)
	}
	return ""
}

// welchDF is the Satterthwaite approximation for the degrees of freedom of a
// sum of two independent variance estimates a (from nA units) and b.
func welchDF(a, b float64, nA, nB int64) float64 {
	den := 0.0
	if nA > 1 {
		den += a * a / float64(nA-1)
	}
	if nB > 1 {
		den += b * b / float64(nB-1)
	}
	if den == 0 {
		return math.Inf(1)
	}
	return (a + b) * (a + b) / den
}

// TTest builds the fixed-horizon interval and p-value of a lift with Welch's t
// distribution (ν = l.DF): p = 2·F_ν(−|Δ|/SE) two-sided, CI = Δ ± t_{1−α/2,ν}·SE;
// one-sided tests use t_{1−α,ν} and leave the other bound infinite.
func TTest(l Lift, alpha float64, side Side) Effect {
	if !l.OK() {
		return Effect{Problem: l.Problem}
	}
	return intervalFrom(l, alpha, side, reference(l.DF))
}

// ZTest is TTest with the standard normal in place of Student's t.
func ZTest(l Lift, alpha float64, side Side) Effect {
	if !l.OK() {
		return Effect{Problem: l.Problem}
	}
	return intervalFrom(l, alpha, side, distuv.UnitNormal)
}

// symmetricDist is the part of a gonum distribution the tests need.
type symmetricDist interface {
	CDF(x float64) float64
	Quantile(p float64) float64
}

// reference returns Student's t with ν degrees of freedom, or the normal when
// ν is so large that the two agree to far better than the 1e-6 the reference
// cases demand (the incomplete beta function also gets slower there).
func reference(df float64) symmetricDist {
	if math.IsInf(df, 1) || df > 1e10 {
		return distuv.UnitNormal
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
}

func intervalFrom(l Lift, alpha float64, side Side, d symmetricDist) Effect {
	se := l.SE()
	stat := l.Estimate / se
	e := Effect{Estimate: l.Estimate, SE: se}
	switch side {
	case Greater:
		e.CILow, e.CIHigh = l.Estimate-d.Quantile(1-alpha)*se, math.Inf(1)
		e.PValue = d.CDF(-stat)
	case Less:
		e.CILow, e.CIHigh = math.Inf(-1), l.Estimate+d.Quantile(1-alpha)*se
		e.PValue = d.CDF(stat)
	default:
		h := d.Quantile(1-alpha/2) * se
		e.CILow, e.CIHigh = l.Estimate-h, l.Estimate+h
		e.PValue = math.Min(1, 2*d.CDF(-math.Abs(stat)))
	}
	return e
}
