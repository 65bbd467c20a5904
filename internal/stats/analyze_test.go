package stats

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func twoArms(metric MetricType, c, t Variant) Request {
	c.Key, t.Key = "control", "treatment"
	return Request{Metric: Metric{Type: metric}, Variants: []Variant{c, t}}
}

// assertJSONClean fails when a response cannot be encoded (NaN or Inf) and
// returns the encoded form.
func assertJSONClean(t *testing.T, resp Response) string {
	t.Helper()
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatalf("response is not valid JSON: %v", err)
	}
	return string(out)
}

func TestDegenerateDataGivesNotEnoughData(t *testing.T) {
	mean := func(n int64, sum, squares float64) Variant { return Variant{N: n, Sum: sum, SumSquares: squares} }
	for _, tc := range []struct {
		name    string
		req     Request
		problem string
	}{
		{"no units in either arm", twoArms(MetricMean, mean(0, 0, 0), mean(0, 0, 0)), "no units"},
		{"a single unit in the treatment", twoArms(MetricMean, mean(3, 20, 443), mean(1, 1, 1)), "needs at least 2 units"},
		{"every value the same in control", twoArms(MetricMean, mean(100, 500, 2500), mean(100, 510, 2700)), "variance is zero"},
		{"no conversions in control", twoArms(MetricProportion, Variant{N: 1000}, Variant{N: 1000, Sum: 5}), "variance is zero"},
		{"every unit converted in the treatment", twoArms(MetricProportion, Variant{N: 100, Sum: 40}, Variant{N: 100, Sum: 100}), "variance is zero"},
		{"a zero control mean makes the relative lift undefined", twoArms(MetricMean, mean(100, 0, 400), mean(100, 10, 420)), "control mean is zero"},
		{"a ratio whose control denominator sums to zero", twoArms(MetricRatio,
			Variant{N: 100, Sum: 270, SumSquares: 848.79},
			Variant{N: 120, Sum: 300, SumSquares: 869, DenominatorSum: 500, DenominatorSumSquares: 2200, SumProduct: 1300}), "denominator sums to zero"},
		{"huge values whose variance drowns in rounding", twoArms(MetricMean, mean(3, 3e9, 3e18), mean(3, 3e9+3, 3e18+6e9+3)), "variance is zero"},
	} {
		for _, method := range []Method{MethodFrequentist, MethodSequential, MethodBayesian} {
			t.Run(tc.name+" ("+string(method)+")", func(t *testing.T) {
				req := tc.req
				req.Method = method
				resp, err := Analyze(req)
				if err != nil {
					t.Fatalf("degenerate data is not an error, got %v", err)
				}
				assertJSONClean(t, resp)
				got := resp.Variants[1]
				if got.Status != StatusNotEnoughData {
					t.Errorf("status = %q, want %q", got.Status, StatusNotEnoughData)
				}
				if !strings.Contains(got.Problem, tc.problem) {
					t.Errorf("problem = %q, want it to mention %q", got.Problem, tc.problem)
				}
			})
		}
	}
}

func TestASingleVariantIsNotEnoughData(t *testing.T) {
	resp, err := Analyze(Request{Metric: Metric{Type: MetricMean}, Variants: []Variant{{Key: "only", N: 10, Sum: 10, SumSquares: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Problem, NotEnoughData) || resp.SRM.PValue != 1 || resp.SRM.Mismatch {
		t.Errorf("response = %+v, want a not-enough-data problem and SRM p = 1", resp)
	}
	assertJSONClean(t, resp)
}

func TestInvalidInputIsAnErrorNamingVariantAndField(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want []string
	}{
		{"negative n and more conversions than units, reported together",
			`{"metric":{"type":"proportion"},"variants":[{"key":"control","n":100,"sum":120},{"key":"treatment","n":-3,"sum":1}]}`,
			[]string{`variants[0].sum: conversions must not exceed n (100)`, `variants[1].n: must be ≥ 0, got -3 (variant "treatment")`}},
		{"a sum of squares no data can produce",
			`{"metric":{"type":"mean"},"variants":[{"key":"a","n":10,"sum":100,"sumSquares":50},{"key":"b","n":10,"sum":1,"sumSquares":1}]}`,
			[]string{"variants[0].sumSquares: must be at least sum²/n"}},
		{"an unknown field", `{"metric":{"type":"mean"},"variants":[],"colour":"red"}`, []string{`unknown field "colour"`}},
		{"an unknown metric type and method", `{"metric":{"type":"median"},"method":"magic","variants":[{"key":"a","n":1,"sum":1}]}`,
			[]string{"metric.type: must be", "method: must be"}},
		{"alpha of zero", `{"metric":{"type":"mean"},"alpha":0,"variants":[{"key":"a","n":1,"sum":1,"sumSquares":1}]}`, []string{"alpha: must be between 0 and 1"}},
		{"alpha of one", `{"metric":{"type":"mean"},"alpha":1,"variants":[{"key":"a","n":1,"sum":1,"sumSquares":1}]}`, []string{"alpha: must be between 0 and 1"}},
		{"a zero prior standard deviation", `{"metric":{"type":"mean"},"prior":{"mean":0,"stddev":0},"variants":[{"key":"a","n":1,"sum":1,"sumSquares":1}]}`, []string{"prior.stddev: must be > 0"}},
		{"a control that is not a variant", `{"metric":{"type":"mean"},"control":"ctl","variants":[{"key":"a","n":1,"sum":1,"sumSquares":1}]}`, []string{`control: "ctl" is not the key of a variant`}},
		{"duplicate and empty keys", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":1,"sum":1,"sumSquares":1},{"key":"a","n":1,"sum":1,"sumSquares":1},{"key":"","n":0,"sum":0}]}`,
			[]string{`variants[1].key: "a" repeats variants[0]`, "variants[2].key: must not be empty"}},
		{"weights missing a variant and naming an unknown one", `{"metric":{"type":"mean"},"weights":{"a":1,"z":-1},"variants":[{"key":"a","n":1,"sum":1,"sumSquares":1},{"key":"b","n":1,"sum":1,"sumSquares":1}]}`,
			[]string{`weights: has no weight for variant "b"`, "weights.z: is not the key of a variant", "weights.z: must be > 0"}},
		{"ratio fields on a mean metric", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":2,"sum":1,"sumSquares":1,"denominatorSum":3}]}`,
			[]string{"variants[0].denominatorSum: is only used by ratio metrics"}},
		{"covariates without cuped", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":2,"sum":1,"sumSquares":1,"covariateSum":3}]}`,
			[]string{`variants[0].covariateSum: is only used with "cuped": true`}},
		{"cuped on a ratio metric", `{"metric":{"type":"ratio"},"cuped":true,"variants":[{"key":"a","n":2,"sum":1,"sumSquares":1,"denominatorSum":2,"denominatorSumSquares":2,"sumProduct":1}]}`,
			[]string{"cuped: is supported for proportion and mean metrics"}},
		{"a ratio cross product beyond Cauchy–Schwarz", `{"metric":{"type":"ratio"},"variants":[{"key":"a","n":2,"sum":2,"sumSquares":2,"denominatorSum":2,"denominatorSumSquares":2,"sumProduct":5}]}`,
			[]string{"variants[0].sumProduct:"}},
		{"sums without units", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":0,"sum":3,"sumSquares":9}]}`,
			[]string{"variants[0].sum: must be 0 when n is 0, got 3", "variants[0].sumSquares: must be 0 when n is 0, got 9"}},
		{"no variants", `{"metric":{"type":"mean"},"variants":[]}`, []string{"variants: needs at least one variant"}},
		{"trailing data", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":0,"sum":0}]} {}`, []string{"unexpected data"}},
		{"a fractional unit count", `{"metric":{"type":"mean"},"variants":[{"key":"a","n":1.5,"sum":0}]}`, []string{"decode request"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest([]byte(tc.json))
			if err == nil {
				t.Fatal("want an error, got none")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestAnalyzeRejectsNonFiniteGoInput(t *testing.T) {
	req := twoArms(MetricMean, Variant{N: 10, Sum: math.NaN(), SumSquares: 1}, Variant{N: 10, Sum: 1, SumSquares: math.Inf(1)})
	_, err := Analyze(req)
	if err == nil || !strings.Contains(err.Error(), "variants[0].sum: must be a finite number") || !strings.Contains(err.Error(), "variants[1].sumSquares: must be a finite number") {
		t.Errorf("error = %v, want both non-finite fields named", err)
	}
}

func TestParseRequestAppliesDefaults(t *testing.T) {
	req, err := ParseRequest([]byte(`{"metric":{"type":"proportion"},"variants":[{"key":"a","n":10,"sum":1},{"key":"b","n":10,"sum":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != MethodFrequentist || req.Alpha != 0.05 || req.SequentialTuning != 5000 || req.Control != "a" || req.Prior != nil {
		t.Errorf("defaults not applied: %+v", req)
	}
}

func TestTheDocumentedExampleRequest(t *testing.T) {
	data, err := os.ReadFile("testdata/example-request.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := ParseRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []Method{MethodFrequentist, MethodSequential, MethodBayesian} {
		t.Run(string(method), func(t *testing.T) {
			req.Method = method
			resp, err := Analyze(req)
			if err != nil {
				t.Fatal(err)
			}
			out := assertJSONClean(t, resp)
			for _, key := range []string{`"srm":{`, `"pValue":`, `"mismatch":false`, `"key":"treatment"`, `"absolute":{"estimate":`, `"relative":{"estimate":`, `"ciLow":`, `"ciHigh":`, `"se":`} {
				if !strings.Contains(out, key) {
					t.Errorf("response lacks %s: %s", key, out)
				}
			}
			tr := resp.Variants[1]
			if tr.Status != StatusOK || tr.Absolute == nil || tr.Relative == nil {
				t.Fatalf("treatment = %+v", tr)
			}
			if method != MethodBayesian && (math.Abs(tr.Absolute.Estimate-1.2) > 1e-9 || math.Abs(tr.Relative.Estimate-0.12) > 1e-9) {
				t.Errorf("lifts = %g, %g; want 1.2 and 0.12", tr.Absolute.Estimate, tr.Relative.Estimate)
			}
			switch method {
			case MethodBayesian:
				if tr.ChanceToWin == nil || tr.Risk == nil || tr.Relative.PValue != nil {
					t.Errorf("Bayesian result needs chanceToWin and risk and no p-value: %s", out)
				}
				// The N(0, 0.3²) prior pulls the relative lift toward 0.
				if !(tr.Relative.Estimate < 0.12) {
					t.Errorf("posterior mean %g not shrunk toward the prior", tr.Relative.Estimate)
				}
			case MethodSequential:
				fixed, _ := Analyze(Request{Metric: req.Metric, Variants: req.Variants})
				if !(tr.Absolute.CIHigh-tr.Absolute.CILow > fixed.Variants[1].Absolute.CIHigh-fixed.Variants[1].Absolute.CILow) {
					t.Error("the sequential interval should be wider than the fixed-horizon one")
				}
			}
		})
	}
}

func TestHolmAdjustedPValuesForSeveralTreatments(t *testing.T) {
	req := Request{Metric: Metric{Type: MetricProportion}, Variants: []Variant{
		{Key: "control", N: 10000, Sum: 1000},
		{Key: "b", N: 10000, Sum: 1080},
		{Key: "c", N: 10000, Sum: 1010},
		{Key: "d", N: 10000, Sum: 1150},
	}}
	resp, err := Analyze(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw []float64
	for _, v := range resp.Variants[1:] {
		raw = append(raw, *v.Absolute.PValue)
	}
	want := Holm(raw)
	for i, v := range resp.Variants[1:] {
		if v.Absolute.PValueAdjusted == nil || *v.Absolute.PValueAdjusted != want[i] {
			t.Errorf("%s: adjusted p = %v, want %g", v.Key, v.Absolute.PValueAdjusted, want[i])
		}
		if v.Relative.PValueAdjusted == nil || *v.Relative.PValueAdjusted < *v.Relative.PValue {
			t.Errorf("%s: relative adjusted p missing or below the raw p", v.Key)
		}
	}
	if resp.Variants[0].Absolute != nil {
		t.Error("control should carry no comparison")
	}
	one, _ := Analyze(twoArms(MetricProportion, req.Variants[0], req.Variants[1]))
	if one.Variants[1].Absolute.PValueAdjusted != nil {
		t.Error("a single treatment needs no adjustment")
	}
}

func TestCUPEDReducesVarianceAndReportsIt(t *testing.T) {
	// Built from a pre-period covariate strongly correlated with the metric.
	req := Request{Metric: Metric{Type: MetricMean}, CUPED: true, Variants: []Variant{
		{Key: "control", N: 1000, Sum: 10000, SumSquares: 110000, CovariateSum: 10000, CovariateSumSquares: 110000, CovariateSumProduct: 108000},
		{Key: "treatment", N: 1000, Sum: 10300, SumSquares: 116100, CovariateSum: 10050, CovariateSumSquares: 111000, CovariateSumProduct: 112500},
	}}
	resp, err := Analyze(req)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONClean(t, resp)
	tr := resp.Variants[1]
	if resp.Theta == nil || tr.VarianceReduction == nil {
		t.Fatalf("theta and varianceReduction must be reported: %+v", resp)
	}
	plain := req
	plain.CUPED = false
	for i := range plain.Variants {
		plain.Variants[i].CovariateSum, plain.Variants[i].CovariateSumSquares, plain.Variants[i].CovariateSumProduct = 0, 0, 0
	}
	unadjusted, _ := Analyze(plain)
	ratio := math.Pow(tr.Absolute.SE/unadjusted.Variants[1].Absolute.SE, 2)
	if !(*tr.VarianceReduction > 0.5) || math.Abs(1-ratio-*tr.VarianceReduction) > 1e-9 {
		t.Errorf("variance reduction %g, SE² ratio %g", *tr.VarianceReduction, ratio)
	}
}

func TestShardsMergeByAddingSums(t *testing.T) {
	ys := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	var whole, a, b MeanSums
	for i, y := range ys {
		s := MeanSums{N: 1, Sum: y, SumSquares: y * y}
		whole = whole.Add(s)
		if i%3 == 0 {
			a = a.Add(s)
		} else {
			b = b.Add(s)
		}
	}
	if got := a.Add(b); got != whole {
		t.Errorf("merged shards %+v, want %+v", got, whole)
	}
	s := whole.Summary()
	if math.Abs(s.Mean-4) > 1e-12 || math.Abs(s.Variance-5.6) > 1e-12 {
		t.Errorf("summary %+v, want mean 4 and variance 5.6", s)
	}
}

func TestSampleRatioMismatchFlagsOnlyBelowTheThreshold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		counts   []int64
		weights  []float64
		mismatch bool
		problem  bool
	}{
		{"an even split is fine", []int64{5000, 5050}, []float64{1, 1}, false, false},
		{"a 1000/1200 split on 50/50 is a mismatch", []int64{1000, 1200}, []float64{50, 50}, true, false},
		{"weights need not sum to one", []int64{7000, 3000}, []float64{70, 30}, false, false},
		{"too few units to judge", []int64{1, 6}, []float64{1, 1}, false, true},
		{"one weighted arm cannot be checked", []int64{10, 10}, []float64{1, 0}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SampleRatioMismatch(tc.counts, tc.weights)
			if got.Mismatch != tc.mismatch || (got.Problem != "") != tc.problem {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestSequentialIntervalIsNarrowestRelativeToFixedNearTheTuningSize(t *testing.T) {
	z := 1.959963984540054
	prev := math.Inf(1)
	for _, n := range []int64{100, 1000, 2500, 5000} {
		m := SequentialMultiplier(n, 0.05, 5000)
		if !(m > z) || !(m < prev) {
			t.Errorf("multiplier at N=%d is %g (previous %g), want > %g and shrinking toward N*", n, m, prev, z)
		}
		prev = m
	}
	if m := SequentialMultiplier(50000, 0.05, 5000); !(m > prev) {
		t.Errorf("multiplier grows again past N*: %g at 50,000 vs %g at 5,000", m, prev)
	}
}

func TestDesignValidationReportsEveryProblem(t *testing.T) {
	_, err := ParseDesign([]byte(`{"metric":"proportion","baseline":1.5,"alpha":2,"power":0.01,"weights":[1,-1]}`))
	for _, want := range []string{"baseline:", "alpha:", "weights[1]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	plan, err := SampleSize(Design{Metric: MetricProportion, Baseline: 0.95, MDE: 0.10, Relative: true})
	if err != nil || plan.Problem == "" {
		t.Errorf("a treatment rate above 1 should be a problem, got %+v, %v", plan, err)
	}
}

func TestLowerIsBetterFlipsChanceToWinAndRisk(t *testing.T) {
	req := twoArms(MetricMean, Variant{N: 100, Sum: 270, SumSquares: 848.79}, Variant{N: 120, Sum: 300, SumSquares: 869})
	req.Method = MethodBayesian
	up, err := Analyze(req)
	if err != nil {
		t.Fatal(err)
	}
	lower := false
	req.Metric.HigherIsBetter = &lower
	down, err := Analyze(req)
	if err != nil {
		t.Fatal(err)
	}
	u, d := up.Variants[1], down.Variants[1]
	if math.Abs(*u.ChanceToWin+*d.ChanceToWin-1) > 1e-12 || u.Risk.Control != d.Risk.Treatment || u.Risk.Treatment != d.Risk.Control {
		t.Errorf("higher is better: ctw %g risk %+v; lower is better: ctw %g risk %+v", *u.ChanceToWin, *u.Risk, *d.ChanceToWin, *d.Risk)
	}
	// GrowthBook's end-to-end case for the same data (gb-e2e-bayes-count).
	if math.Abs(*u.ChanceToWin-0.071834168) > 5e-9 || math.Abs(u.Risk.Treatment-0.075691131) > 5e-9 {
		t.Errorf("ctw %.9f, risk %.9f; want 0.071834168, 0.075691131", *u.ChanceToWin, u.Risk.Treatment)
	}
}

func TestOneSidedSequentialBoundsAndPValuesAgree(t *testing.T) {
	for _, tc := range []struct {
		name string
		lift Lift
		side Side
	}{
		{"a clear improvement tested for greater", Lift{Estimate: 0.5, Variance: 0.01}, Greater},
		{"a borderline improvement tested for greater", Lift{Estimate: 0.3, Variance: 0.01}, Greater},
		{"an improvement tested for less", Lift{Estimate: 0.5, Variance: 0.01}, Less},
		{"a clear regression tested for less", Lift{Estimate: -0.5, Variance: 0.01}, Less},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := SequentialTest(tc.lift, 4000, 0.05, 5000, tc.side)
			excludes := (tc.side == Greater && e.CILow > 0) || (tc.side == Less && e.CIHigh < 0)
			if excludes != (e.PValue <= 0.05) {
				t.Errorf("bound excludes 0: %v, but p = %g (effect %+v)", excludes, e.PValue, e)
			}
			if tc.side == Greater && !math.IsInf(e.CIHigh, 1) || tc.side == Less && !math.IsInf(e.CILow, -1) {
				t.Errorf("the open side must be infinite: %+v", e)
			}
		})
	}
	if e := SequentialTest(Lift{Estimate: 1, Variance: 1}, 100, 0.6, 5000, Greater); e.OK() {
		t.Errorf("α = 0.6 one-sided should be refused, got %+v", e)
	}
}
