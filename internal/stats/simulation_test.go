package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The simulations draw per-unit values but keep only the running sums, as the
// ingestion pipeline does, and analyse the sums at every look. Seeds are
// fixed, so the figures in the logs are reproducible.

const (
	simExperiments  = 2000
	simLooks        = 20
	simUnitsPerLook = 250 // per arm and look: 5,000 per arm, 10,000 in all at the last look
	simAlpha        = 0.05
)

// binomialBound is the largest false-positive rate that is still consistent
// (three standard errors) with a true rate of α over simExperiments runs.
func binomialBound(alpha float64, runs int) float64 {
	return alpha + 3*math.Sqrt(alpha*(1-alpha)/float64(runs))
}

type aaResult struct {
	fixedFinal, fixedPeeking, sequentialPeeking, sequentialGreater int
	// inconsistent counts looks where the sequential p-value and interval disagree.
	inconsistent int
}

// simulateAA runs A/A experiments on a skewed-ish mean metric and counts,
// per procedure, the experiments declared significant.
func simulateAA(seed uint64) aaResult {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var res aaResult
	for range simExperiments {
		var arms [2]MeanSums
		var fixedAny, seqAny, seqGreater bool
		for look := 1; look <= simLooks; look++ {
			for a := range arms {
				for range simUnitsPerLook {
					// A mean metric with a point mass at zero and a spread of
					// positive values: like revenue per user, not normal.
					y := 0.0
					if rng.Float64() < 0.3 {
						y = 10 + 4*rng.NormFloat64()
					}
					arms[a].N++
					arms[a].Sum += y
					arms[a].SumSquares += y * y
				}
			}
			abs := AbsoluteLift(arms[0].Summary(), arms[1].Summary())
			if e := TTest(abs, simAlpha, TwoSided); e.OK() && e.PValue < simAlpha {
				fixedAny = true
				if look == simLooks {
					res.fixedFinal++
				}
			}
			units := arms[0].N + arms[1].N
			if e := SequentialTest(abs, units, simAlpha, DefaultSequentialTuning, TwoSided); e.OK() && (e.CILow > 0 || e.CIHigh < 0) {
				if e.PValue >= simAlpha {
					res.inconsistent++
				}
				seqAny = true
			}
			if e := SequentialTest(abs, units, simAlpha, DefaultSequentialTuning, Greater); e.OK() && e.CILow > 0 {
				seqGreater = true
			}
		}
		if fixedAny {
			res.fixedPeeking++
		}
		if seqAny {
			res.sequentialPeeking++
		}
		if seqGreater {
			res.sequentialGreater++
		}
	}
	return res
}

func TestAAFalsePositiveRates(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: 2,000 A/A experiments with 20 looks")
	}
	res := simulateAA(1)
	bound := binomialBound(simAlpha, simExperiments)
	rate := func(k int) float64 { return float64(k) / simExperiments }
	t.Logf("false-positive rates over %d A/A experiments (bound %.4f): fixed test once %.4f, fixed test peeking %d times %.4f, sequential peeking %.4f, one-sided sequential peeking %.4f",
		simExperiments, bound, rate(res.fixedFinal), simLooks, rate(res.fixedPeeking), rate(res.sequentialPeeking), rate(res.sequentialGreater))

	if res.inconsistent > 0 {
		t.Errorf("%d looks where the sequential interval excludes 0 but p ≥ α", res.inconsistent)
	}
	low := simAlpha - 3*math.Sqrt(simAlpha*(1-simAlpha)/simExperiments)
	if r := rate(res.fixedFinal); r > bound || r < low {
		t.Errorf("the fixed-horizon t-test looked at once rejects %.4f of A/A tests, want %.2f within [%.4f, %.4f]", r, simAlpha, low, bound)
	}
	if r := rate(res.sequentialPeeking); r > bound {
		t.Errorf("the sequential test peeking %d times rejects %.4f of A/A tests, want ≤ %.4f", simLooks, r, bound)
	}
	if r := rate(res.sequentialGreater); r > bound {
		t.Errorf("the one-sided sequential test peeking %d times rejects %.4f of A/A tests, want ≤ %.4f", simLooks, r, bound)
	}
	if r := rate(res.fixedPeeking); r <= bound {
		t.Errorf("the fixed test peeking %d times rejects only %.4f of A/A tests; the simulation cannot tell peeking from not (bound %.4f)", simLooks, r, bound)
	}
}

func TestABReachesThePlannedPower(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: 2,000 A/B experiments")
	}
	design := Design{Metric: MetricProportion, Baseline: 0.10, MDE: 0.15, Relative: true, Alpha: 0.05, Power: 0.8}
	plan, err := SampleSize(design)
	if err != nil || plan.Problem != "" {
		t.Fatalf("SampleSize: %v %s", err, plan.Problem)
	}
	nc, nt := plan.UnitsPerArm[0], plan.UnitsPerArm[1]
	pc, pt := design.Baseline, design.Baseline*(1+design.MDE)
	rng := rand.New(rand.NewPCG(2, 0x5eed))
	// Conversions per arm are binomial; with thousands of units the normal
	// approximation of the binomial count is accurate, and it keeps the
	// simulation free of per-unit loops.
	draw := func(n int64, p float64) float64 {
		mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
		return math.Max(0, math.Min(float64(n), math.Round(mean+sd*rng.NormFloat64())))
	}
	significant := 0
	for range simExperiments {
		c := ProportionSums{N: nc, Sum: draw(nc, pc)}.Summary()
		tr := ProportionSums{N: nt, Sum: draw(nt, pt)}.Summary()
		if e := TTest(AbsoluteLift(c, tr), design.Alpha, TwoSided); e.OK() && e.PValue < design.Alpha {
			significant++
		}
	}
	got := float64(significant) / simExperiments
	tol := 3 * math.Sqrt(plan.Power*(1-plan.Power)/simExperiments)
	t.Logf("%d units per arm: planned power %.4f, simulated %.4f over %d A/B experiments (tolerance ±%.4f)", nc, plan.Power, got, simExperiments, tol)
	if math.Abs(got-plan.Power) > tol {
		t.Errorf("simulated power %.4f, want %.4f ± %.4f", got, plan.Power, tol)
	}
}
