package stats

import (
	"errors"
	"fmt"
	"math"
)

// cancellationTolerance decides when a centred sum of squares such as
// Σy² − (Σy)²/n is indistinguishable from rounding error. The subtraction
// loses about log10(Σy²/result) digits; when the result is smaller than this
// fraction of the raw second moment, fewer than about four significant digits
// would survive, so the variance is treated as zero ("not enough data")
// instead of reporting a number made of rounding noise, or a negative one.
const cancellationTolerance = 1e-12

// Summary is everything a comparison needs from one arm: the number of units,
// the per-unit mean of the metric and the per-unit variance (so the variance of
// the arm's mean is Variance/N). Problem is non-empty when the arm cannot be
// compared (for example a ratio whose denominator sums to zero).
type Summary struct {
	N        int64
	Mean     float64
	Variance float64
	Problem  string
}

// usable reports why the summary cannot enter a comparison, or "" when it can.
func (s Summary) usable() string {
	switch {
	case s.Problem != "":
		return s.Problem
	case s.N < 2:
		return fmt.Sprintf("needs at least 2 units, has %d", s.N)
	case !finite(s.Mean) || !finite(s.Variance):
		return "mean or variance is not a finite number"
	case s.Variance <= 0:
		return "variance is zero"
	}
	return ""
}

// ProportionSums holds the sufficient statistics of a conversion metric: N
// units of which Sum converted (each unit contributes 0 or 1).
type ProportionSums struct {
	N   int64
	Sum float64
}

// Add merges two shards (days, partitions, strata) of the same arm.
func (s ProportionSums) Add(o ProportionSums) ProportionSums {
	return ProportionSums{N: s.N + o.N, Sum: s.Sum + o.Sum}
}

// Summary returns the conversion rate p = Sum/N and the per-unit variance
// p(1−p), the binomial variance without the n/(n−1) correction.
func (s ProportionSums) Summary() Summary {
	if s.N <= 0 {
		return Summary{Problem: "no units"}
	}
	p := s.Sum / float64(s.N)
	return Summary{N: s.N, Mean: p, Variance: math.Max(0, p*(1-p))}
}

// Validate reports every impossible field value, naming the field.
func (s ProportionSums) Validate() error { return joinProblems(s.problems()) }

func (s ProportionSums) problems() []fieldProblem {
	var ps []fieldProblem
	ps = checkN(ps, s.N)
	switch {
	case !finite(s.Sum):
		ps = append(ps, fieldProblem{"sum", "must be a finite number"})
	case s.Sum < 0:
		ps = append(ps, fieldProblem{"sum", fmt.Sprintf("must be ≥ 0, got %g", s.Sum)})
	case s.N >= 0 && s.Sum > float64(s.N):
		ps = append(ps, fieldProblem{"sum", fmt.Sprintf("conversions must not exceed n (%d), got %g", s.N, s.Sum)})
	}
	return ps
}

// MeanSums holds the sufficient statistics of a per-unit value metric
// (revenue, counts, durations): N units, Sum = Σy and SumSquares = Σy².
type MeanSums struct {
	N          int64
	Sum        float64
	SumSquares float64
}

// Add merges two shards of the same arm.
func (s MeanSums) Add(o MeanSums) MeanSums {
	return MeanSums{N: s.N + o.N, Sum: s.Sum + o.Sum, SumSquares: s.SumSquares + o.SumSquares}
}

// Summary returns the mean Σy/N and the sample variance (Σy² − (Σy)²/N)/(N−1).
// With one unit, or when rounding leaves no trustworthy variance, the variance
// is zero, which comparisons report as "not enough data".
func (s MeanSums) Summary() Summary {
	if s.N <= 0 {
		return Summary{Problem: "no units"}
	}
	n := float64(s.N)
	out := Summary{N: s.N, Mean: s.Sum / n}
	if s.N > 1 {
		out.Variance = centredSquares(n, s.Sum, s.SumSquares) / (n - 1)
	}
	return out
}

// Validate reports every impossible field value, naming the field.
func (s MeanSums) Validate() error { return joinProblems(s.problems()) }

func (s MeanSums) problems() []fieldProblem {
	var ps []fieldProblem
	ps = checkN(ps, s.N)
	ps = checkFinite(ps, "sum", s.Sum)
	ps = checkSquares(ps, "sum", "sumSquares", s.N, s.Sum, s.SumSquares)
	return ps
}

// RatioSums holds the sufficient statistics of a ratio of two per-unit sums,
// for example revenue per session when units are users: per unit i a numerator
// x_i and a denominator y_i, with Sum = Σx, SumSquares = Σx²,
// DenominatorSum = Σy, DenominatorSumSquares = Σy² and SumProduct = Σxy.
type RatioSums struct {
	N                     int64
	Sum                   float64
	SumSquares            float64
	DenominatorSum        float64
	DenominatorSumSquares float64
	SumProduct            float64
}

// Add merges two shards of the same arm.
func (s RatioSums) Add(o RatioSums) RatioSums {
	return RatioSums{
		N:                     s.N + o.N,
		Sum:                   s.Sum + o.Sum,
		SumSquares:            s.SumSquares + o.SumSquares,
		DenominatorSum:        s.DenominatorSum + o.DenominatorSum,
		DenominatorSumSquares: s.DenominatorSumSquares + o.DenominatorSumSquares,
		SumProduct:            s.SumProduct + o.SumProduct,
	}
}

// Summary returns the ratio R = Σx/Σy as the mean and, as the per-unit
// variance, the delta-method variance of R:
//
//	v_R = Σ(x_i − R·y_i)² / (N−1) / ȳ²
//
// which equals vx/ȳ² − 2·cxy·x̄/ȳ³ + vy·x̄²/ȳ⁴ but is computed from one centred
// sum, so there is a single place where cancellation is guarded.
func (s RatioSums) Summary() Summary {
	if s.N <= 0 {
		return Summary{Problem: "no units"}
	}
	if s.DenominatorSum == 0 {
		return Summary{N: s.N, Problem: "denominator sums to zero"}
	}
	n := float64(s.N)
	r := s.Sum / s.DenominatorSum
	out := Summary{N: s.N, Mean: r}
	if s.N > 1 {
		scale := s.SumSquares + r*r*s.DenominatorSumSquares
		m2 := s.SumSquares - 2*r*s.SumProduct + r*r*s.DenominatorSumSquares
		if !(m2 > cancellationTolerance*scale) {
			m2 = 0
		}
		ybar := s.DenominatorSum / n
		out.Variance = m2 / (n - 1) / (ybar * ybar)
	}
	return out
}

// Validate reports every impossible field value, naming the field.
func (s RatioSums) Validate() error { return joinProblems(s.problems()) }

func (s RatioSums) problems() []fieldProblem {
	var ps []fieldProblem
	ps = checkN(ps, s.N)
	ps = checkFinite(ps, "sum", s.Sum)
	ps = checkSquares(ps, "sum", "sumSquares", s.N, s.Sum, s.SumSquares)
	ps = checkFinite(ps, "denominatorSum", s.DenominatorSum)
	ps = checkSquares(ps, "denominatorSum", "denominatorSumSquares", s.N, s.DenominatorSum, s.DenominatorSumSquares)
	ps = checkProduct(ps, "sumProduct", s.SumProduct, s.SumSquares, s.DenominatorSumSquares)
	return ps
}

// centredSquares returns Σy² − (Σy)²/n, or 0 when the difference is negative
// or too small to be told apart from rounding error (see cancellationTolerance).
func centredSquares(n, sum, sumSquares float64) float64 {
	m2 := sumSquares - sum*sum/n
	if !(m2 > cancellationTolerance*sumSquares) {
		return 0
	}
	return m2
}

// centredProducts returns Σxy − ΣxΣy/n, or 0 when it is within rounding error
// of zero relative to the magnitude of the raw products.
func centredProducts(n, sumX, sumY, sumProduct, sumSquaresX, sumSquaresY float64) float64 {
	c := sumProduct - sumX*sumY/n
	if math.Abs(c) <= cancellationTolerance*math.Sqrt(sumSquaresX*sumSquaresY) {
		return 0
	}
	return c
}

// fieldProblem is one invalid input value: the JSON name of the field and what
// is wrong with it. Callers add the location (variants[i]).
type fieldProblem struct {
	field string
	msg   string
}

func (p fieldProblem) Error() string { return p.field + ": " + p.msg }

func joinProblems(ps []fieldProblem) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

func checkN(ps []fieldProblem, n int64) []fieldProblem {
	if n < 0 {
		ps = append(ps, fieldProblem{"n", fmt.Sprintf("must be ≥ 0, got %d", n)})
	}
	return ps
}

func checkFinite(ps []fieldProblem, field string, v float64) []fieldProblem {
	if !finite(v) {
		ps = append(ps, fieldProblem{field, "must be a finite number"})
	}
	return ps
}

// checkSquares rejects a sum of squares that no real data can produce:
// negative, or smaller than (Σy)²/n (Cauchy–Schwarz), beyond rounding error.
func checkSquares(ps []fieldProblem, sumField, field string, n int64, sum, sumSquares float64) []fieldProblem {
	if n == 0 && sum != 0 && finite(sum) {
		ps = append(ps, fieldProblem{sumField, fmt.Sprintf("must be 0 when n is 0, got %g", sum)})
	}
	switch {
	case !finite(sumSquares):
		return append(ps, fieldProblem{field, "must be a finite number"})
	case sumSquares < 0:
		return append(ps, fieldProblem{field, fmt.Sprintf("must be ≥ 0, got %g", sumSquares)})
	case n == 0 && sumSquares != 0:
		return append(ps, fieldProblem{field, fmt.Sprintf("must be 0 when n is 0, got %g", sumSquares)})
	case n > 0 && finite(sum):
		min := sum * sum / float64(n)
		if sumSquares < min*(1-1e-9) {
			return append(ps, fieldProblem{field, fmt.Sprintf("must be at least sum²/n = %g, got %g", min, sumSquares)})
		}
	}
	return ps
}

// checkProduct rejects a cross product larger than Cauchy–Schwarz allows.
func checkProduct(ps []fieldProblem, field string, product, squaresX, squaresY float64) []fieldProblem {
	if !finite(product) {
		return append(ps, fieldProblem{field, "must be a finite number"})
	}
	if squaresX >= 0 && squaresY >= 0 {
		bound := math.Sqrt(squaresX) * math.Sqrt(squaresY)
		if math.Abs(product) > bound*(1+1e-9) {
			ps = append(ps, fieldProblem{field, fmt.Sprintf("|%s| must not exceed √(Σx²·Σy²) = %g, got %g", field, bound, product)})
		}
	}
	return ps
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
