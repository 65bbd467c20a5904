package stats_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/weirhq/weir/internal/stats"
)

// A request is parsed strictly, then analysed; the response is plain JSON.
func ExampleAnalyze() {
	data, err := os.ReadFile("testdata/example-request.json")
	if err != nil {
		panic(err)
	}
	req, err := stats.ParseRequest(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := stats.Analyze(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	t := resp.Variants[1]
	fmt.Printf("SRM p=%.3f mismatch=%v\n", resp.SRM.PValue, resp.SRM.Mismatch)
	fmt.Printf("%s vs %s: %s\n", t.Key, resp.Control, t.Status)
	fmt.Printf("absolute %+.3f [%.3f, %.3f] p=%.2g\n", t.Absolute.Estimate, t.Absolute.CILow, t.Absolute.CIHigh, *t.Absolute.PValue)
	fmt.Printf("relative %+.2f%% [%.2f%%, %.2f%%]\n", 100*t.Relative.Estimate, 100*t.Relative.CILow, 100*t.Relative.CIHigh)
	out, _ := json.Marshal(resp.SRM)
	fmt.Println(string(out))
	// Output:
	// SRM p=0.320 mismatch=false
	// treatment vs control: ok
	// absolute +1.200 [0.175, 2.225] p=0.022
	// relative +12.00% [1.17%, 22.83%]
	// {"chiSquare":0.9900990099009901,"df":1,"pValue":0.3197181768128675,"mismatch":false}
}

// Invalid requests report every problem at once, with its location.
func ExampleParseRequest() {
	_, err := stats.ParseRequest([]byte(`{"metric": {"type": "proportion"},
	  "variants": [{"key": "control", "n": 100, "sum": 120}, {"key": "treatment", "n": -3, "sum": 1}]}`))
	fmt.Println(err)
	// Output:
	// variants[0].sum: conversions must not exceed n (100), got 120 (variant "control")
	// variants[1].n: must be ≥ 0, got -3 (variant "treatment")
}

// How many users does an A/B test need to detect a 10% relative lift on a
// 5% conversion rate with 80% power at α = 0.05?
func ExampleSampleSize() {
	plan, err := stats.SampleSize(stats.Design{
		Metric:   stats.MetricProportion,
		Baseline: 0.05,
		MDE:      0.10,
		Relative: true,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.UnitsPerArm, plan.TotalUnits, fmt.Sprintf("%.4f", plan.Power))
	// Output:
	// [31231 31231] 62462 0.8000
}

// A guardrail check in a guarded rollout: is the error rate of the new
// variant worse than control? The one-sided sequential test may be repeated
// at every refresh; a regression is declared when the lower bound of the
// treatment-minus-control difference is above zero.
func ExampleSequentialTest() {
	control := stats.ProportionSums{N: 4000, Sum: 40}.Summary()
	treatment := stats.ProportionSums{N: 4000, Sum: 80}.Summary()
	lift := stats.AbsoluteLift(control, treatment)
	e := stats.SequentialTest(lift, control.N+treatment.N, 0.05, stats.DefaultSequentialTuning, stats.Greater)
	fmt.Printf("error rate +%.2f pp, lower bound %+.2f pp, always-valid p=%.4f, regression=%v\n",
		100*e.Estimate, 100*e.CILow, e.PValue, e.CILow > 0)
	// Output:
	// error rate +1.00 pp, lower bound +0.24 pp, always-valid p=0.0035, regression=true
}

// Holm-adjusted p-values for three treatments compared with one control.
func ExampleHolm() {
	fmt.Printf("%.3f\n", stats.Holm([]float64{0.01, 0.04, 0.03}))
	// Output:
	// [0.030 0.060 0.060]
}
