package stats

import (
	"fmt"

	"gonum.org/v1/gonum/stat/distuv"
)

// SRMThreshold is the p-value below which a sample ratio mismatch is flagged.
// The test is repeated at every refresh without correction, so the threshold
// is deliberately strict (GrowthBook, Eppo and Statsig use the same value).
const SRMThreshold = 0.001

// SRM is the result of a sample-ratio-mismatch check: Pearson's chi-square
// statistic of the observed unit counts against the configured weights, its
// degrees of freedom, the p-value and whether it signals a mismatch. Problem
// explains when the check could not be made; PValue is then 1.
type SRM struct {
	ChiSquare float64 `json:"chiSquare"`
	DF        int     `json:"df"`
	PValue    float64 `json:"pValue"`
	Mismatch  bool    `json:"mismatch"`
	Problem   string  `json:"problem,omitempty"`
}

// SampleRatioMismatch tests observed unit counts against the weights the
// traffic was split with (any positive scale; they are normalised). Arms with
// weight 0 take no part. With fewer than two weighted arms or no units the
// check cannot be made. When an expected count is below 5 the chi-square
// approximation is unreliable: the p-value is still reported but Mismatch is
// not set and Problem says why.
func SampleRatioMismatch(counts []int64, weights []float64) SRM {
	if len(counts) != len(weights) {
		return SRM{PValue: 1, Problem: fmt.Sprintf("%d counts but %d weights", len(counts), len(weights))}
	}
	// Normalise by the largest weight first so that huge weights cannot
	// overflow their sum.
	var wmax float64
	for _, w := range weights {
		if finite(w) && w > wmax {
			wmax = w
		}
	}
	var total, wsum float64
	arms := 0
	for i, w := range weights {
		w /= wmax
		if !(w > 0) || !finite(w) || counts[i] < 0 {
			continue
		}
		total += float64(counts[i])
		wsum += w
		arms++
	}
	if arms < 2 {
		return SRM{PValue: 1, Problem: notEnough("fewer than two arms to compare")}
	}
	if total == 0 {
		return SRM{PValue: 1, DF: arms - 1, Problem: notEnough("no units")}
	}
	var chi2, minExpected float64
	for i, w := range weights {
		if !(w > 0) || !finite(w) || counts[i] < 0 {
			continue
		}
		e := total * (w / wmax) / wsum
		d := float64(counts[i]) - e
		chi2 += d * d / e
		if minExpected == 0 || e < minExpected {
			minExpected = e
		}
	}
	out := SRM{ChiSquare: chi2, DF: arms - 1}
	out.PValue = distuv.ChiSquared{K: float64(out.DF)}.Survival(chi2)
	if minExpected < 5 {
		out.Problem = notEnough("an expected count is below 5, too few units for the chi-square test")
		return out
	}
	out.Mismatch = out.PValue < SRMThreshold
	return out
}
