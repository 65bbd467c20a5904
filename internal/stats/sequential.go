package stats

import (
	"fmt"
	"math"
)

// DefaultSequentialTuning is the default tuning sample size N* of the
// confidence sequence: the total number of units (both arms) at which the
// sequential interval is narrowest relative to the fixed-horizon one.
const DefaultSequentialTuning = 5000

// SequentialTest builds an always-valid (anytime-valid) interval and p-value
// for a lift from the normal-mixture confidence sequence of Howard et al.
// (2021), in the asymptotic form GrowthBook and Eppo use. units is N, the
// number of units in the two compared arms; tuning is N* (≤ 0 means
// DefaultSequentialTuning). The interval may be recomputed after every new
// unit and still covers the true effect at all times with probability 1−α.
//
// Two-sided, with z = Δ/SE, ρ² = (−2 ln α + ln(1 − 2 ln α))/N* and r = N·ρ²:
//
//	half-width = SE · sqrt( (1+r)/r · ln((1+r)/α²) )
//	p-value    = min(1, sqrt(1+r) · exp(−z²·r / (2(1+r))))
//
// One-sided (Side Greater or Less), with ρ₁ computed from 2α:
//
//	half-width = SE · sqrt( 2(1+r)/r · ln(1 + sqrt(1+r)/(2α)) )
//	p-value    = min(1, sqrt(1+r) / (2·(exp(z²·r/(2(1+r))) − 1)))  when z is on the tested side, else 1
//
// Both p-values are the smallest α′ at which the interval for α′ (with ρ held
// at the configured α) excludes zero, so p ≤ α exactly when the interval
// excludes zero, and the p-value is itself always valid.
func SequentialTest(l Lift, units int64, alpha, tuning float64, side Side) Effect {
	if !l.OK() {
		return Effect{Problem: l.Problem}
	}
	if units < 2 {
		return Effect{Problem: notEnough("the sequential test needs at least 2 units")}
	}
	// The one-sided boundary mixes at level 2α, so it needs α < 0.5.
	if !(alpha > 0 && alpha < 1) || (side != TwoSided && alpha >= 0.5) {
		return Effect{Problem: fmt.Sprintf("alpha %g is outside the range of the sequential test", alpha)}
	}
	if !(tuning > 0) {
		tuning = DefaultSequentialTuning
	}
	se := l.SE()
	z := l.Estimate / se
	e := Effect{Estimate: l.Estimate, SE: se}
	n := float64(units)
	if side == TwoSided {
		r := n * mixingRate(alpha, tuning)
		h := se * twoSidedBoundary(r, alpha)
		e.CILow, e.CIHigh = l.Estimate-h, l.Estimate+h
		e.PValue = math.Min(1, math.Sqrt(1+r)*math.Exp(-z*z*r/(2*(1+r))))
		return e
	}
	r := n * mixingRate(2*alpha, tuning)
	h := se * math.Sqrt(2*(1+r)/r*math.Log1p(math.Sqrt(1+r)/(2*alpha)))
	zSide := z
	if side == Less {
		e.CILow, e.CIHigh = math.Inf(-1), l.Estimate+h
		zSide = -z
	} else {
		e.CILow, e.CIHigh = l.Estimate-h, math.Inf(1)
	}
	e.PValue = 1
	if zSide > 0 {
		// expm1 keeps precision when the exponent is tiny; the result is
		// +Inf-safe because large exponents only shrink the p-value.
		e.PValue = math.Min(1, math.Sqrt(1+r)/(2*math.Expm1(zSide*zSide*r/(2*(1+r)))))
	}
	return e
}

// SequentialMultiplier is the width of the two-sided sequential interval in
// standard errors after units units, for the given α and tuning N*. It is
// never smaller than the fixed-horizon z_{1−α/2}; at α = 0.05 it is smallest
// (≈ 3.04) when units = N*.
func SequentialMultiplier(units int64, alpha, tuning float64) float64 {
	if !(tuning > 0) {
		tuning = DefaultSequentialTuning
	}
	return twoSidedBoundary(float64(units)*mixingRate(alpha, tuning), alpha)
}

// mixingRate is ρ², the variance of the normal mixing distribution per unit,
// chosen so that the boundary is tightest at N = N* (Howard et al. 2021, eq. 14;
// GrowthBook's ρ, Eppo's 1/ρ_E).
func mixingRate(alpha, tuning float64) float64 {
	la := math.Log(alpha)
	return (-2*la + math.Log(1-2*la)) / tuning
}

// twoSidedBoundary is the normal-mixture boundary M(r, α) in standard errors.
func twoSidedBoundary(r, alpha float64) float64 {
	return math.Sqrt((1 + r) / r * math.Log((1+r)/(alpha*alpha)))
}
