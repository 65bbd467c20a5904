package stats

import "math"

// CovariateSums holds one arm's sufficient statistics for CUPED (Deng et al.
// 2013): the metric y (N, Sum = Σy, SumSquares = Σy²) and a covariate x
// measured before exposure, usually the same metric over a pre-exposure window
// (CovariateSum = Σx, CovariateSumSquares = Σx², CovariateSumProduct = Σxy).
// For a conversion metric SumSquares equals Sum.
type CovariateSums struct {
	N                   int64
	Sum                 float64
	SumSquares          float64
	CovariateSum        float64
	CovariateSumSquares float64
	CovariateSumProduct float64
}

// Add merges two shards of the same arm.
func (s CovariateSums) Add(o CovariateSums) CovariateSums {
	return CovariateSums{
		N:                   s.N + o.N,
		Sum:                 s.Sum + o.Sum,
		SumSquares:          s.SumSquares + o.SumSquares,
		CovariateSum:        s.CovariateSum + o.CovariateSum,
		CovariateSumSquares: s.CovariateSumSquares + o.CovariateSumSquares,
		CovariateSumProduct: s.CovariateSumProduct + o.CovariateSumProduct,
	}
}

// Validate reports every impossible field value, naming the field: those of
// the metric (as for MeanSums) and those of the covariate.
func (s CovariateSums) Validate() error {
	metric := MeanSums{N: s.N, Sum: s.Sum, SumSquares: s.SumSquares}.problems()
	return joinProblems(append(metric, s.problems()...))
}

// problems checks the covariate fields only; the metric fields are checked
// with the metric's own type.
func (s CovariateSums) problems() []fieldProblem {
	var ps []fieldProblem
	ps = checkFinite(ps, "covariateSum", s.CovariateSum)
	ps = checkSquares(ps, "covariateSum", "covariateSumSquares", s.N, s.CovariateSum, s.CovariateSumSquares)
	ps = checkProduct(ps, "covariateSumProduct", s.CovariateSumProduct, s.SumSquares, s.CovariateSumSquares)
	return ps
}

// armMoments are the per-unit moments of one arm (sample forms, divisor n−1).
type armMoments struct {
	n              float64
	meanY, meanX   float64
	varY, varX, cY float64
}

func (s CovariateSums) moments() armMoments {
	n := float64(s.N)
	m := armMoments{n: n}
	if s.N <= 0 {
		return m
	}
	m.meanY, m.meanX = s.Sum/n, s.CovariateSum/n
	if s.N > 1 {
		m.varY = centredSquares(n, s.Sum, s.SumSquares) / (n - 1)
		m.varX = centredSquares(n, s.CovariateSum, s.CovariateSumSquares) / (n - 1)
		m.cY = centredProducts(n, s.Sum, s.CovariateSum, s.CovariateSumProduct, s.SumSquares, s.CovariateSumSquares) / (n - 1)
	}
	return m
}

// adjustedVariance is the per-unit variance of y − θ·x, or 0 when rounding
// leaves nothing trustworthy.
func (m armMoments) adjustedVariance(theta float64) float64 {
	v := m.varY + theta*theta*m.varX - 2*theta*m.cY
	if !(v > cancellationTolerance*(m.varY+theta*theta*m.varX)) {
		return 0
	}
	return v
}

// PooledTheta is the CUPED coefficient θ = cov(y, x)/var(x), estimated once
// from the sums of all arms pooled as one sample (not centred per arm), so
// that every arm is adjusted by the same amount and the adjustment cannot
// create a difference between arms. It is 0, meaning "no adjustment", when the
// pooled covariate or metric has no variance.
func PooledTheta(arms ...CovariateSums) float64 {
	var total CovariateSums
	for _, a := range arms {
		total = total.Add(a)
	}
	m := total.moments()
	if !(m.varX > 0) || !(m.varY > 0) {
		return 0
	}
	theta := m.cY / m.varX
	if !finite(theta) {
		return 0
	}
	return theta
}

// CUPEDLifts compares two arms after regression adjustment with coefficient
// theta: each arm's mean becomes ȳ − θ·x̄ and its per-unit variance
// v_y + θ²·v_x − 2θ·c_xy. The relative lift divides by the UNADJUSTED control
// mean, and its variance is the exact delta method for
// (ȳ_t − θx̄_t − ȳ_c + θx̄_c)/|ȳ_c|, whose control term has gradient
// (−k, θ)/|ȳ_c| in (ȳ_c, x̄_c) with k = 1 + Δ/ȳ_c. θ is treated as known.
//
// reduction is 1 − V_adjusted/V_unadjusted for the absolute lift: the share
// of the variance removed by the covariate (≈ corr(x, y)²). It is negative if
// the adjustment made things worse.
func CUPEDLifts(control, treatment CovariateSums, theta float64) (absolute, relative Lift, reduction float64) {
	mc, mt := control.moments(), treatment.moments()
	sc := Summary{N: control.N, Mean: mc.meanY - theta*mc.meanX, Variance: mc.adjustedVariance(theta)}
	st := Summary{N: treatment.N, Mean: mt.meanY - theta*mt.meanX, Variance: mt.adjustedVariance(theta)}
	if control.N <= 0 {
		sc.Problem = "no units"
	}
	if treatment.N <= 0 {
		st.Problem = "no units"
	}
	absolute = AbsoluteLift(sc, st)
	if !absolute.OK() {
		return absolute, absolute, 0
	}
	unadjusted := mc.varY/mc.n + mt.varY/mt.n
	if unadjusted > 0 {
		reduction = 1 - absolute.Variance/unadjusted
	}
	c := mc.meanY
	if c == 0 {
		return absolute, Lift{Problem: notEnough("control mean is zero, so the relative lift is undefined")}, reduction
	}
	k := 1 + absolute.Estimate/c
	controlTerm := (k*k*mc.varY - 2*k*theta*mc.cY + theta*theta*mc.varX) / mc.n
	treatmentTerm := st.Variance / mt.n
	relative = finishLift(absolute.Estimate/math.Abs(c), (treatmentTerm+controlTerm)/(c*c), absolute.DF)
	return absolute, relative, reduction
}
