package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Prior is a normal prior N(Mean, StdDev²) on the lift. The zero value (StdDev
// 0) is the flat, improper prior: the posterior is then the likelihood.
// Priors in requests are stated on the relative lift; Scale converts one for
// an absolute lift.
type Prior struct {
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

// Flat reports whether the prior is the flat, improper prior.
func (p Prior) Flat() bool { return !(p.StdDev > 0) }

// Scale rescales a prior on the relative lift to the absolute lift of a
// metric whose control mean is controlMean: N(μ0·|ȳ_c|, (σ0·|ȳ_c|)²).
func (p Prior) Scale(controlMean float64) Prior {
	if p.Flat() {
		return p
	}
	a := math.Abs(controlMean)
	return Prior{Mean: p.Mean * a, StdDev: p.StdDev * a}
}

// Posterior is the Gaussian posterior of a lift and the decision quantities
// derived from it. Mean and SD describe the posterior; CILow and CIHigh bound
// the equal-tailed 1−α credible interval. ChanceToWin is the posterior
// probability that the treatment is better than control (in the metric's good
// direction). RiskControl is the expected loss of keeping control (how much is
// given up if the treatment is in fact better) and RiskTreatment the expected
// loss of shipping the treatment, both in the units of the lift.
type Posterior struct {
	Mean          float64
	SD            float64
	CILow         float64
	CIHigh        float64
	ChanceToWin   float64
	RiskControl   float64
	RiskTreatment float64
	Problem       string
}

// OK reports whether the posterior carries a usable result.
func (p Posterior) OK() bool { return p.Problem == "" }

// Bayes combines the likelihood Δ̂ ~ N(Δ, V) of a lift with a normal prior on
// the same scale (conjugate update: precision 1/V + 1/σ0², mean weighted by
// precision). higherIsBetter orients ChanceToWin and the risks.
//
// With D the effect in the good direction, D ~ N(μ, σ²) and z = μ/σ:
//
//	ChanceToWin   = Φ(z)
//	RiskControl   = E[max(D, 0)]  = μ·Φ(z) + σ·φ(z)
//	RiskTreatment = E[max(−D, 0)] = σ·φ(z) − μ·Φ(−z)
func Bayes(l Lift, prior Prior, alpha float64, higherIsBetter bool) Posterior {
	if !l.OK() {
		return Posterior{Problem: l.Problem}
	}
	mu, v := l.Estimate, l.Variance
	if !prior.Flat() {
		pv := prior.StdDev * prior.StdDev
		precision := 1/v + 1/pv
		mu = (l.Estimate/v + prior.Mean/pv) / precision
		v = 1 / precision
	}
	sd := math.Sqrt(v)
	if !finite(mu) || !(sd > 0) || !finite(sd) {
		return Posterior{Problem: notEnough("the posterior has no usable variance")}
	}
	q := distuv.UnitNormal.Quantile(1 - alpha/2)
	out := Posterior{Mean: mu, SD: sd, CILow: mu - q*sd, CIHigh: mu + q*sd}
	good := mu
	if !higherIsBetter {
		good = -mu
	}
	z := good / sd
	phi := distuv.UnitNormal.Prob(z)
	out.ChanceToWin = distuv.UnitNormal.CDF(z)
	// Rounding can leave a tiny negative expected loss far in a tail.
	out.RiskControl = math.Max(0, good*distuv.UnitNormal.CDF(z)+sd*phi)
	out.RiskTreatment = math.Max(0, sd*phi-good*distuv.UnitNormal.CDF(-z))
	return out
}
