// Package stats is Weir's experiment statistics engine: pure functions from
// per-variant sufficient statistics to effect estimates, intervals, p-values
// and decisions. It does no I/O, keeps no state and reads no clock, so the
// server, the CLI (`weir analyze`, `weir samplesize`) and tests all get the
// same numbers from the same input.
//
// # From sums to summaries
//
// Each arm is described by additive sums that the ingestion pipeline can keep
// per day or per shard and merge with Add: ProportionSums (n, conversions),
// MeanSums (n, Σy, Σy²) and RatioSums (adds the denominator's sums and Σxy for
// a ratio of two per-unit sums, analysed with the delta method). Summary turns
// them into a per-unit mean and variance. Variances that are negative, or too
// small to be told apart from the rounding error of Σy² − (Σy)²/n, become
// zero, and a zero variance means "not enough data" rather than an
// impossibly precise result.
//
// # Comparing arms
//
// AbsoluteLift and RelativeLift turn two summaries into a Lift: an estimate,
// its variance and Welch–Satterthwaite degrees of freedom. The relative lift
// is (ȳ_t − ȳ_c)/|ȳ_c| with a delta-method variance. A Lift is then turned
// into an interval by one of three methods:
//
//   - TTest: the fixed-horizon Welch t-test, valid for one look at the data.
//   - SequentialTest: the normal-mixture confidence sequence, valid however
//     often the results are looked at (guarded rollouts use its one-sided
//     form); its p-value is always valid and agrees with its interval.
//   - Bayes: a Gaussian posterior with a flat or normal prior, chance to win
//     and the expected loss of each choice.
//
// CUPEDLifts does the same after regression adjustment on a pre-exposure
// covariate, with one θ pooled over all arms (PooledTheta).
//
// # Checks and corrections
//
// SampleRatioMismatch tests the observed split of units against the
// configured weights. Holm and BenjaminiHochberg adjust p-values for many
// comparisons. SampleSize, Power and MinimumDetectableEffect plan an
// experiment from a Design.
//
// # The JSON contract
//
// ParseRequest and Analyze implement the request/response contract of
// `weir analyze`; ParseDesign does the same for planning. Invalid input
// (negative counts, more conversions than units, sums no data could produce)
// is an error that names every bad field. Data that are valid but cannot
// support a result (no units, a single unit, zero variance, a zero control
// mean, a single arm) are not errors: the result carries a Status or Problem
// starting with NotEnoughData, and no number in a Response is NaN or infinite.
//
// The formulas, the reasons behind each choice and the differences from other
// engines are written down in docs/statistics.md.
package stats
