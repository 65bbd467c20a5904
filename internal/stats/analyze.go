package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MetricType says how a metric's per-unit values are summarised.
type MetricType string

// The metric types.
const (
	// MetricProportion is a conversion: each unit contributes 0 or 1.
	MetricProportion MetricType = "proportion"
	// MetricMean is a per-unit value such as revenue or a count.
	MetricMean MetricType = "mean"
	// MetricRatio is the ratio of two per-unit sums, for example clicks per
	// page view when the randomisation unit is the user.
	MetricRatio MetricType = "ratio"
)

// Method chooses how treatments are compared with control.
type Method string

// The analysis methods.
const (
	// MethodFrequentist is the fixed-horizon Welch t-test: valid when the
	// data are looked at once, at the planned sample size.
	MethodFrequentist Method = "frequentist"
	// MethodSequential is the always-valid normal-mixture confidence
	// sequence: valid however often the results are looked at.
	MethodSequential Method = "sequential"
	// MethodBayesian is the Gaussian posterior of the lift with chance to win
	// and expected loss.
	MethodBayesian Method = "bayesian"
)

// Status values of a treatment result.
const (
	// StatusOK means every requested result was computed.
	StatusOK = "ok"
	// StatusNotEnoughData means some result could not be computed; Problem
	// says which and why, and whatever could be computed is still reported.
	StatusNotEnoughData = NotEnoughData
)

// Metric describes the metric being analysed. HigherIsBetter defaults to true
// when nil; it orients the chance to win and the risks.
type Metric struct {
	Type           MetricType `json:"type"`
	HigherIsBetter *bool      `json:"higherIsBetter,omitempty"`
}

// higherIsBetter returns the direction with its default applied.
func (m Metric) higherIsBetter() bool { return m.HigherIsBetter == nil || *m.HigherIsBetter }

// Request is one analysis: a metric's sufficient statistics per variant and
// how to compare them. It is the JSON contract of `weir analyze`.
//
// Zero values mean defaults: Method frequentist, Alpha 0.05, SequentialTuning
// 5000 (units in both arms), Control the first variant, Weights equal, Prior
// flat. The prior is stated on the relative lift. CUPED requires the
// covariate sums on every variant and is supported for proportion and mean
// metrics.
type Request struct {
	Metric           Metric             `json:"metric"`
	Method           Method             `json:"method,omitempty"`
	Alpha            float64            `json:"alpha,omitempty"`
	SequentialTuning float64            `json:"sequentialTuning,omitempty"`
	Prior            *Prior             `json:"prior,omitempty"`
	Control          string             `json:"control,omitempty"`
	Weights          map[string]float64 `json:"weights,omitempty"`
	CUPED            bool               `json:"cuped,omitempty"`
	Variants         []Variant          `json:"variants"`
}

// Variant is one arm's sufficient statistics. Which fields are used depends on
// the metric type: proportion uses N and Sum (conversions; SumSquares may be
// omitted or equal Sum); mean adds SumSquares; ratio adds the Denominator
// sums and SumProduct (Σ numerator·denominator). With CUPED, the Covariate
// fields hold Σx, Σx² and Σxy for the pre-exposure covariate x.
type Variant struct {
	Key                   string  `json:"key"`
	N                     int64   `json:"n"`
	Sum                   float64 `json:"sum"`
	SumSquares            float64 `json:"sumSquares,omitempty"`
	DenominatorSum        float64 `json:"denominatorSum,omitempty"`
	DenominatorSumSquares float64 `json:"denominatorSumSquares,omitempty"`
	SumProduct            float64 `json:"sumProduct,omitempty"`
	CovariateSum          float64 `json:"covariateSum,omitempty"`
	CovariateSumSquares   float64 `json:"covariateSumSquares,omitempty"`
	CovariateSumProduct   float64 `json:"covariateSumProduct,omitempty"`
}

// Response is the result of Analyze. Variants are in request order. Theta is
// the pooled CUPED coefficient when CUPED was used. Problem is non-empty when
// no comparison was possible at all (a single variant).
type Response struct {
	Metric           MetricType      `json:"metric"`
	Method           Method          `json:"method"`
	Alpha            float64         `json:"alpha"`
	SequentialTuning float64         `json:"sequentialTuning,omitempty"`
	Control          string          `json:"control"`
	Theta            *float64        `json:"theta,omitempty"`
	SRM              SRM             `json:"srm"`
	Variants         []VariantResult `json:"variants"`
	Problem          string          `json:"problem,omitempty"`
}

// VariantResult is one variant's summary and, for treatments, its comparison
// with control. Mean and Variance are the unadjusted per-unit mean and
// variance (for ratios the ratio and its delta-method variance).
//
// For treatments Status is StatusOK or StatusNotEnoughData, with Problem
// saying what is missing; whatever could be computed is still reported.
// Absolute and Relative are confidence intervals with p-values (frequentist,
// sequential) or credible intervals of the posterior (Bayesian, no p-value).
// ChanceToWin and Risk (Bayesian) come from the relative-lift posterior, so
// risk is a fraction of the control mean. VarianceReduction (CUPED) is the
// share of the absolute lift's variance removed by the covariate.
type VariantResult struct {
	Key               string        `json:"key"`
	N                 int64         `json:"n"`
	Mean              float64       `json:"mean"`
	Variance          float64       `json:"variance"`
	Status            string        `json:"status,omitempty"`
	Problem           string        `json:"problem,omitempty"`
	Absolute          *EffectResult `json:"absolute,omitempty"`
	Relative          *EffectResult `json:"relative,omitempty"`
	ChanceToWin       *float64      `json:"chanceToWin,omitempty"`
	Risk              *Risk         `json:"risk,omitempty"`
	VarianceReduction *float64      `json:"varianceReduction,omitempty"`
}

// EffectResult is the JSON form of an Effect (or a posterior). PValueAdjusted
// is the Holm–Bonferroni adjusted p-value over all treatments of the request,
// present when there are two or more treatments; treatments without a result
// count as p = 1 in the family.
type EffectResult struct {
	Estimate       float64  `json:"estimate"`
	SE             float64  `json:"se"`
	CILow          float64  `json:"ciLow"`
	CIHigh         float64  `json:"ciHigh"`
	PValue         *float64 `json:"pValue,omitempty"`
	PValueAdjusted *float64 `json:"pValueAdjusted,omitempty"`
}

// Risk is the expected loss of each choice, in relative lift: Control is what
// keeping control gives up if the treatment is better, Treatment what shipping
// the treatment costs if it is worse.
type Risk struct {
	Control   float64 `json:"control"`
	Treatment float64 `json:"treatment"`
}

// ParseRequest decodes a JSON Request strictly (unknown fields are errors),
// applies the defaults and validates it, reporting every problem at once with
// its location, for example `variants[1].n: must be ≥ 0, got -3`.
func ParseRequest(data []byte) (Request, error) {
	// Pointers distinguish an explicit 0 (invalid) from an absent value
	// (default); the outer fields shadow the embedded ones for encoding/json.
	var raw struct {
		Request
		Alpha            *float64 `json:"alpha"`
		SequentialTuning *float64 `json:"sequentialTuning"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("decode request: unexpected data after the JSON object")
	}
	req := raw.Request
	var errs []error
	if raw.Alpha != nil {
		if *raw.Alpha == 0 {
			errs = append(errs, errors.New("alpha: must be between 0 and 1 (exclusive), got 0"))
		}
		req.Alpha = *raw.Alpha
	}
	if raw.SequentialTuning != nil {
		if *raw.SequentialTuning == 0 {
			errs = append(errs, errors.New("sequentialTuning: must be > 0, got 0"))
		}
		req.SequentialTuning = *raw.SequentialTuning
	}
	req = req.withDefaults()
	if err := req.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Request{}, err
	}
	return req, nil
}

func (r Request) withDefaults() Request {
	if r.Method == "" {
		r.Method = MethodFrequentist
	}
	if r.Alpha == 0 {
		r.Alpha = DefaultAlpha
	}
	if r.SequentialTuning == 0 {
		r.SequentialTuning = DefaultSequentialTuning
	}
	if r.Control == "" && len(r.Variants) > 0 {
		r.Control = r.Variants[0].Key
	}
	return r
}

// Validate reports every invalid field of a request at once, each with its
// location. Zero values that have defaults are accepted.
func (r Request) Validate() error {
	r = r.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch r.Metric.Type {
	case MetricProportion, MetricMean, MetricRatio:
	default:
		bad("metric.type", "must be %q, %q or %q, got %q", MetricProportion, MetricMean, MetricRatio, r.Metric.Type)
	}
	switch r.Method {
	case MethodFrequentist, MethodSequential, MethodBayesian:
	default:
		bad("method", "must be %q, %q or %q, got %q", MethodFrequentist, MethodSequential, MethodBayesian, r.Method)
	}
	if !(r.Alpha > 0 && r.Alpha < 1) {
		bad("alpha", "must be between 0 and 1 (exclusive), got %g", r.Alpha)
	}
	if !(r.SequentialTuning > 0) || !finite(r.SequentialTuning) {
		bad("sequentialTuning", "must be > 0, got %g", r.SequentialTuning)
	}
	if r.Prior != nil {
		if !finite(r.Prior.Mean) {
			bad("prior.mean", "must be a finite number")
		}
		if !(r.Prior.StdDev > 0) || !finite(r.Prior.StdDev) {
			bad("prior.stddev", "must be > 0, got %g (omit prior for a flat prior)", r.Prior.StdDev)
		}
	}
	if r.CUPED && r.Metric.Type == MetricRatio {
		bad("cuped", "is supported for proportion and mean metrics, not ratio")
	}
	if len(r.Variants) == 0 {
		bad("variants", "needs at least one variant")
	}
	seen := make(map[string]int, len(r.Variants))
	for i, v := range r.Variants {
		loc := fmt.Sprintf("variants[%d]", i)
		if v.Key == "" {
			bad(loc+".key", "must not be empty")
		} else if j, dup := seen[v.Key]; dup {
			bad(loc+".key", "%q repeats variants[%d]", v.Key, j)
		} else {
			seen[v.Key] = i
		}
		for _, p := range r.variantProblems(v) {
			errs = append(errs, fmt.Errorf("%s.%s: %s (variant %q)", loc, p.field, p.msg, v.Key))
		}
	}
	if _, ok := seen[r.Control]; !ok && len(r.Variants) > 0 {
		bad("control", "%q is not the key of a variant", r.Control)
	}
	if r.Weights != nil {
		for _, v := range r.Variants {
			if _, ok := r.Weights[v.Key]; !ok && v.Key != "" {
				bad("weights", "has no weight for variant %q", v.Key)
			}
		}
		for k, w := range r.Weights {
			if _, ok := seen[k]; !ok {
				bad("weights."+k, "is not the key of a variant")
			}
			if !(w > 0) || !finite(w) {
				bad("weights."+k, "must be > 0, got %g", w)
			}
		}
	}
	return errors.Join(errs...)
}

// variantProblems checks one variant against the metric type and options.
func (r Request) variantProblems(v Variant) []fieldProblem {
	var ps []fieldProblem
	mustBeZero := func(field string, x float64, why string) {
		if x != 0 {
			ps = append(ps, fieldProblem{field, why})
		}
	}
	notRatio := "is only used by ratio metrics"
	switch r.Metric.Type {
	case MetricProportion:
		ps = append(ps, v.proportion().problems()...)
		if v.SumSquares != 0 && v.SumSquares != v.Sum {
			ps = append(ps, fieldProblem{"sumSquares", "must equal sum for a proportion (values are 0 or 1), or be omitted"})
		}
	case MetricMean:
		ps = append(ps, v.mean().problems()...)
	case MetricRatio:
		ps = append(ps, v.ratio().problems()...)
	}
	if r.Metric.Type != MetricRatio {
		mustBeZero("denominatorSum", v.DenominatorSum, notRatio)
		mustBeZero("denominatorSumSquares", v.DenominatorSumSquares, notRatio)
		mustBeZero("sumProduct", v.SumProduct, notRatio)
	}
	if r.CUPED && r.Metric.Type != MetricRatio {
		ps = append(ps, r.covariate(v).problems()...)
	} else if !r.CUPED {
		notCUPED := `is only used with "cuped": true`
		mustBeZero("covariateSum", v.CovariateSum, notCUPED)
		mustBeZero("covariateSumSquares", v.CovariateSumSquares, notCUPED)
		mustBeZero("covariateSumProduct", v.CovariateSumProduct, notCUPED)
	}
	return ps
}

func (v Variant) proportion() ProportionSums { return ProportionSums{N: v.N, Sum: v.Sum} }

func (v Variant) mean() MeanSums { return MeanSums{N: v.N, Sum: v.Sum, SumSquares: v.SumSquares} }

func (v Variant) ratio() RatioSums {
	return RatioSums{
		N: v.N, Sum: v.Sum, SumSquares: v.SumSquares,
		DenominatorSum: v.DenominatorSum, DenominatorSumSquares: v.DenominatorSumSquares,
		SumProduct: v.SumProduct,
	}
}

// covariate returns the CUPED sums; for a proportion Σy² = Σy.
func (r Request) covariate(v Variant) CovariateSums {
	squares := v.SumSquares
	if r.Metric.Type == MetricProportion {
		squares = v.Sum
	}
	return CovariateSums{
		N: v.N, Sum: v.Sum, SumSquares: squares,
		CovariateSum: v.CovariateSum, CovariateSumSquares: v.CovariateSumSquares,
		CovariateSumProduct: v.CovariateSumProduct,
	}
}

func (r Request) summary(v Variant) Summary {
	switch r.Metric.Type {
	case MetricProportion:
		return v.proportion().Summary()
	case MetricRatio:
		return v.ratio().Summary()
	}
	return v.mean().Summary()
}

// Analyze compares every treatment with control as the request asks. Invalid
// input is an error naming each bad field; data that cannot support a result
// (no units, one unit, zero variance, a zero control mean, a single variant)
// give a result whose Status and Problem say "not enough data". No number in
// the response is NaN or infinite.
func Analyze(req Request) (Response, error) {
	req = req.withDefaults()
	if err := req.Validate(); err != nil {
		return Response{}, err
	}
	resp := Response{
		Metric:  req.Metric.Type,
		Method:  req.Method,
		Alpha:   req.Alpha,
		Control: req.Control,
	}
	if req.Method == MethodSequential {
		resp.SequentialTuning = req.SequentialTuning
	}
	control := 0
	counts := make([]int64, len(req.Variants))
	weights := make([]float64, len(req.Variants))
	summaries := make([]Summary, len(req.Variants))
	resp.Variants = make([]VariantResult, len(req.Variants))
	for i, v := range req.Variants {
		if v.Key == req.Control {
			control = i
		}
		counts[i] = v.N
		weights[i] = 1
		if req.Weights != nil {
			weights[i] = req.Weights[v.Key]
		}
		s := req.summary(v)
		summaries[i] = s
		resp.Variants[i] = VariantResult{Key: v.Key, N: v.N, Mean: s.Mean, Variance: s.Variance}
		if !finite(s.Mean) || !finite(s.Variance) {
			resp.Variants[i].Mean, resp.Variants[i].Variance = 0, 0
		}
	}
	resp.SRM = SampleRatioMismatch(counts, weights)
	if len(req.Variants) < 2 {
		resp.Problem = notEnough("a single variant, nothing to compare")
		return resp, nil
	}

	var theta float64
	var covariates []CovariateSums
	if req.CUPED {
		covariates = make([]CovariateSums, len(req.Variants))
		for i, v := range req.Variants {
			covariates[i] = req.covariate(v)
		}
		theta = PooledTheta(covariates...)
		resp.Theta = &theta
	}

	var treatments []int
	for i := range req.Variants {
		if i == control {
			continue
		}
		treatments = append(treatments, i)
		out := &resp.Variants[i]
		var abs, rel Lift
		if req.CUPED {
			var reduction float64
			abs, rel, reduction = CUPEDLifts(covariates[control], covariates[i], theta)
			if abs.OK() && finite(reduction) {
				out.VarianceReduction = &reduction
			}
		} else {
			abs = AbsoluteLift(summaries[control], summaries[i])
			rel = RelativeLift(summaries[control], summaries[i])
		}
		var problems []string
		switch req.Method {
		case MethodBayesian:
			problems = req.bayesian(out, abs, rel, summaries[control].Mean)
		default:
			for _, part := range []struct {
				name string
				lift Lift
				dst  **EffectResult
			}{{"absolute", abs, &out.Absolute}, {"relative", rel, &out.Relative}} {
				var e Effect
				if req.Method == MethodSequential {
					e = SequentialTest(part.lift, req.Variants[control].N+req.Variants[i].N, req.Alpha, req.SequentialTuning, TwoSided)
				} else {
					e = TTest(part.lift, req.Alpha, TwoSided)
				}
				if r, problem := effectResult(e, true); problem != "" {
					problems = append(problems, part.name+": "+problem)
				} else {
					*part.dst = r
				}
			}
		}
		out.Status = StatusOK
		if len(problems) > 0 {
			out.Status = StatusNotEnoughData
			out.Problem = joinReasons(problems)
		}
	}
	if len(treatments) > 1 && req.Method != MethodBayesian {
		adjustFamily(resp.Variants, treatments, func(v *VariantResult) *EffectResult { return v.Absolute })
		adjustFamily(resp.Variants, treatments, func(v *VariantResult) *EffectResult { return v.Relative })
	}
	return resp, nil
}

// bayesian fills the Bayesian result of one treatment and returns what could
// not be computed. The prior is on the relative lift and is rescaled by the
// unadjusted control mean for the absolute lift.
func (r Request) bayesian(out *VariantResult, abs, rel Lift, controlMean float64) []string {
	var prior Prior
	if r.Prior != nil {
		prior = *r.Prior
	}
	var problems []string
	higher := r.Metric.higherIsBetter()
	absPrior := prior.Scale(controlMean)
	if !prior.Flat() && controlMean == 0 {
		problems = append(problems, "absolute: "+notEnough("the prior is relative and the control mean is zero"))
	} else if res, problem := posteriorResult(Bayes(abs, absPrior, r.Alpha, higher)); problem != "" {
		problems = append(problems, "absolute: "+problem)
	} else {
		out.Absolute = res
	}
	post := Bayes(rel, prior, r.Alpha, higher)
	res, problem := posteriorResult(post)
	if problem != "" {
		return append(problems, "relative: "+problem)
	}
	out.Relative = res
	if finite(post.ChanceToWin) && finite(post.RiskControl) && finite(post.RiskTreatment) {
		ctw := post.ChanceToWin
		out.ChanceToWin = &ctw
		out.Risk = &Risk{Control: post.RiskControl, Treatment: post.RiskTreatment}
	}
	return problems
}

func posteriorResult(p Posterior) (*EffectResult, string) {
	if !p.OK() {
		return nil, p.Problem
	}
	return effectResult(Effect{Estimate: p.Mean, SE: p.SD, CILow: p.CILow, CIHigh: p.CIHigh}, false)
}

// effectResult converts an Effect to its JSON form, refusing any number that
// JSON cannot carry (extreme inputs can overflow an interval bound).
func effectResult(e Effect, withP bool) (*EffectResult, string) {
	if !e.OK() {
		return nil, e.Problem
	}
	if !finite(e.Estimate) || !finite(e.SE) || !finite(e.CILow) || !finite(e.CIHigh) || !finite(e.PValue) {
		return nil, notEnough("the result is outside the floating-point range")
	}
	r := &EffectResult{Estimate: e.Estimate, SE: e.SE, CILow: e.CILow, CIHigh: e.CIHigh}
	if withP {
		p := e.PValue
		r.PValue = &p
	}
	return r, ""
}

// adjustFamily sets Holm-adjusted p-values on one effect of every treatment.
func adjustFamily(vs []VariantResult, treatments []int, pick func(*VariantResult) *EffectResult) {
	ps := make([]float64, len(treatments))
	for j, i := range treatments {
		ps[j] = 1
		if e := pick(&vs[i]); e != nil && e.PValue != nil {
			ps[j] = *e.PValue
		}
	}
	adjusted := Holm(ps)
	for j, i := range treatments {
		if e := pick(&vs[i]); e != nil && e.PValue != nil {
			a := adjusted[j]
			e.PValueAdjusted = &a
		}
	}
}

func joinReasons(rs []string) string {
	out := rs[0]
	for _, r := range rs[1:] {
		out += "; " + r
	}
	return out
}
