package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// The reference cases in testdata/reference.json are computed by
// testdata/gen_reference.py with SciPy and statsmodels, from raw per-unit data
// where the engine only sees sums. Regenerate them with
//
//	python3 testdata/gen_reference.py > testdata/reference.json

type referenceFile struct {
	Cases []referenceCase `json:"cases"`
}

type referenceCase struct {
	Kind     string          `json:"kind"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
}

type refArm struct {
	N                     int64   `json:"n"`
	Sum                   float64 `json:"sum"`
	SumSquares            float64 `json:"sumSquares"`
	DenominatorSum        float64 `json:"denominatorSum"`
	DenominatorSumSquares float64 `json:"denominatorSumSquares"`
	SumProduct            float64 `json:"sumProduct"`
	CovariateSum          float64 `json:"covariateSum"`
	CovariateSumSquares   float64 `json:"covariateSumSquares"`
	CovariateSumProduct   float64 `json:"covariateSumProduct"`
}

func (a refArm) summary(metric string) Summary {
	switch metric {
	case "proportion":
		return ProportionSums{N: a.N, Sum: a.Sum}.Summary()
	case "ratio":
		return RatioSums{a.N, a.Sum, a.SumSquares, a.DenominatorSum, a.DenominatorSumSquares, a.SumProduct}.Summary()
	}
	return MeanSums{a.N, a.Sum, a.SumSquares}.Summary()
}

// refEffect is an expected interval; a nil bound is infinite.
type refEffect struct {
	Estimate float64  `json:"estimate"`
	SE       float64  `json:"se"`
	CILow    *float64 `json:"ciLow"`
	CIHigh   *float64 `json:"ciHigh"`
	PValue   float64  `json:"pValue"`
}

// near is the agreement the reference cases demand: 1e-6 relative, or 1e-8
// absolute for values near zero.
func near(got, want float64) bool {
	d := math.Abs(got - want)
	return d <= 1e-6*math.Abs(want) || d <= 1e-8
}

func checkNear(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %.12g, want %.12g (difference %.3g)", what, got, want, got-want)
	}
}

func checkEffect(t *testing.T, what string, got Effect, want refEffect) {
	t.Helper()
	if !got.OK() {
		t.Fatalf("%s: unexpected problem %q", what, got.Problem)
	}
	checkNear(t, what+".estimate", got.Estimate, want.Estimate)
	checkNear(t, what+".se", got.SE, want.SE)
	checkBound(t, what+".ciLow", got.CILow, want.CILow, math.Inf(-1))
	checkBound(t, what+".ciHigh", got.CIHigh, want.CIHigh, math.Inf(1))
	checkNear(t, what+".pValue", got.PValue, want.PValue)
}

func checkBound(t *testing.T, what string, got float64, want *float64, infinite float64) {
	t.Helper()
	if want == nil {
		if got != infinite {
			t.Errorf("%s = %g, want %g", what, got, infinite)
		}
		return
	}
	checkNear(t, what, got, *want)
}

func TestReferenceCasesFromSciPyAndStatsmodels(t *testing.T) {
	data, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var file referenceFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]func(*testing.T, referenceCase){
		"lift":   runLiftCase,
		"bayes":  runBayesCase,
		"cuped":  runCUPEDCase,
		"srm":    runSRMCase,
		"design": runDesignCase,
		"adjust": runAdjustCase,
	}
	seen := map[string]int{}
	for _, c := range file.Cases {
		run, ok := kinds[c.Kind]
		if !ok {
			t.Fatalf("case %q has unknown kind %q", c.Name, c.Kind)
		}
		seen[c.Kind]++
		t.Run(c.Name, func(t *testing.T) { run(t, c) })
	}
	for kind := range kinds {
		if seen[kind] == 0 {
			t.Errorf("no reference case of kind %q", kind)
		}
	}
}

func decodeCase(t *testing.T, c referenceCase, in, want any) {
	t.Helper()
	if err := json.Unmarshal(c.Input, in); err != nil {
		t.Fatalf("input: %v", err)
	}
	if err := json.Unmarshal(c.Expected, want); err != nil {
		t.Fatalf("expected: %v", err)
	}
}

func runLiftCase(t *testing.T, c referenceCase) {
	var in struct {
		Metric    string  `json:"metric"`
		Alpha     float64 `json:"alpha"`
		Method    string  `json:"method"`
		Tuning    float64 `json:"tuning"`
		Control   refArm  `json:"control"`
		Treatment refArm  `json:"treatment"`
	}
	var want struct {
		DF                float64    `json:"df"`
		ControlVariance   *float64   `json:"controlVariance"`
		TreatmentVariance *float64   `json:"treatmentVariance"`
		Absolute          refEffect  `json:"absolute"`
		Relative          refEffect  `json:"relative"`
		AbsoluteGreater   *refEffect `json:"absoluteGreater"`
		AbsoluteLess      *refEffect `json:"absoluteLess"`
	}
	decodeCase(t, c, &in, &want)
	sc, st := in.Control.summary(in.Metric), in.Treatment.summary(in.Metric)
	if want.ControlVariance != nil {
		checkNear(t, "control variance", sc.Variance, *want.ControlVariance)
		checkNear(t, "treatment variance", st.Variance, *want.TreatmentVariance)
	}
	abs, rel := AbsoluteLift(sc, st), RelativeLift(sc, st)
	switch in.Method {
	case "t":
		checkNear(t, "df", abs.DF, want.DF)
		checkEffect(t, "absolute", TTest(abs, in.Alpha, TwoSided), want.Absolute)
		checkEffect(t, "relative", TTest(rel, in.Alpha, TwoSided), want.Relative)
	case "sequential":
		units := in.Control.N + in.Treatment.N
		checkEffect(t, "absolute", SequentialTest(abs, units, in.Alpha, in.Tuning, TwoSided), want.Absolute)
		checkEffect(t, "relative", SequentialTest(rel, units, in.Alpha, in.Tuning, TwoSided), want.Relative)
		checkEffect(t, "absolute greater", SequentialTest(abs, units, in.Alpha, in.Tuning, Greater), *want.AbsoluteGreater)
		checkEffect(t, "absolute less", SequentialTest(abs, units, in.Alpha, in.Tuning, Less), *want.AbsoluteLess)
	default:
		t.Fatalf("unknown method %q", in.Method)
	}
}

func runBayesCase(t *testing.T, c referenceCase) {
	var in struct {
		Alpha          float64 `json:"alpha"`
		HigherIsBetter bool    `json:"higherIsBetter"`
		Prior          *Prior  `json:"prior"`
		Control        refArm  `json:"control"`
		Treatment      refArm  `json:"treatment"`
	}
	type refPosterior struct {
		Mean, SD, CILow, CIHigh, ChanceToWin, RiskControl, RiskTreatment float64
	}
	var want struct{ Absolute, Relative refPosterior }
	decodeCase(t, c, &in, &want)
	sc, st := in.Control.summary("mean"), in.Treatment.summary("mean")
	var prior Prior
	if in.Prior != nil {
		prior = *in.Prior
	}
	for _, part := range []struct {
		name string
		got  Posterior
		want refPosterior
	}{
		{"absolute", Bayes(AbsoluteLift(sc, st), prior.Scale(sc.Mean), in.Alpha, in.HigherIsBetter), want.Absolute},
		{"relative", Bayes(RelativeLift(sc, st), prior, in.Alpha, in.HigherIsBetter), want.Relative},
	} {
		g, w := part.got, part.want
		if !g.OK() {
			t.Fatalf("%s: %s", part.name, g.Problem)
		}
		checkNear(t, part.name+".mean", g.Mean, w.Mean)
		checkNear(t, part.name+".sd", g.SD, w.SD)
		checkNear(t, part.name+".ciLow", g.CILow, w.CILow)
		checkNear(t, part.name+".ciHigh", g.CIHigh, w.CIHigh)
		checkNear(t, part.name+".chanceToWin", g.ChanceToWin, w.ChanceToWin)
		checkNear(t, part.name+".riskControl", g.RiskControl, w.RiskControl)
		checkNear(t, part.name+".riskTreatment", g.RiskTreatment, w.RiskTreatment)
	}
}

func runCUPEDCase(t *testing.T, c referenceCase) {
	var in struct {
		Metric string   `json:"metric"`
		Alpha  float64  `json:"alpha"`
		Arms   []refArm `json:"arms"`
	}
	var want struct {
		Theta      float64 `json:"theta"`
		Treatments []struct {
			DF                float64   `json:"df"`
			VarianceReduction float64   `json:"varianceReduction"`
			Absolute          refEffect `json:"absolute"`
			Relative          refEffect `json:"relative"`
		} `json:"treatments"`
	}
	decodeCase(t, c, &in, &want)
	arms := make([]CovariateSums, len(in.Arms))
	for i, a := range in.Arms {
		arms[i] = CovariateSums{a.N, a.Sum, a.SumSquares, a.CovariateSum, a.CovariateSumSquares, a.CovariateSumProduct}
	}
	theta := PooledTheta(arms...)
	checkNear(t, "theta", theta, want.Theta)
	for j, w := range want.Treatments {
		abs, rel, reduction := CUPEDLifts(arms[0], arms[j+1], theta)
		what := fmt.Sprintf("treatment %d", j+1)
		checkNear(t, what+" df", abs.DF, w.DF)
		checkNear(t, what+" variance reduction", reduction, w.VarianceReduction)
		checkEffect(t, what+" absolute", TTest(abs, in.Alpha, TwoSided), w.Absolute)
		checkEffect(t, what+" relative", TTest(rel, in.Alpha, TwoSided), w.Relative)
	}
}

func runSRMCase(t *testing.T, c referenceCase) {
	var in struct {
		Counts  []int64   `json:"counts"`
		Weights []float64 `json:"weights"`
	}
	var want struct {
		ChiSquare float64 `json:"chiSquare"`
		PValue    float64 `json:"pValue"`
		Mismatch  bool    `json:"mismatch"`
	}
	decodeCase(t, c, &in, &want)
	got := SampleRatioMismatch(in.Counts, in.Weights)
	checkNear(t, "chi-square", got.ChiSquare, want.ChiSquare)
	checkNear(t, "p-value", got.PValue, want.PValue)
	if got.Mismatch != want.Mismatch {
		t.Errorf("mismatch = %v, want %v", got.Mismatch, want.Mismatch)
	}
}

func runDesignCase(t *testing.T, c referenceCase) {
	var d Design
	var want struct {
		TotalUnits float64 `json:"totalUnits"`
		Power      float64 `json:"power"`
		MDE        float64 `json:"mde"`
	}
	decodeCase(t, c, &d, &want)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	total, problem := d.requiredUnits()
	if problem != "" {
		t.Fatal(problem)
	}
	checkNear(t, "total units (unrounded)", total, want.TotalUnits)
	plan, err := SampleSize(d)
	if err != nil || plan.Problem != "" {
		t.Fatalf("SampleSize: %v %s", err, plan.Problem)
	}
	if float64(plan.TotalUnits) < want.TotalUnits || plan.Power < d.Power {
		t.Errorf("SampleSize gives %d units with power %g, want ≥ %g units and power ≥ %g", plan.TotalUnits, plan.Power, want.TotalUnits, d.Power)
	}
	pw, err := Power(d)
	if err != nil || pw.Problem != "" {
		t.Fatalf("Power: %v %s", err, pw.Problem)
	}
	checkNear(t, "power", pw.Power, want.Power)
	mde, err := MinimumDetectableEffect(d)
	if err != nil || mde.Problem != "" {
		t.Fatalf("MinimumDetectableEffect: %v %s", err, mde.Problem)
	}
	checkNear(t, "mde", mde.MDE, math.Abs(want.MDE))
}

func runAdjustCase(t *testing.T, c referenceCase) {
	var in struct{ P []float64 }
	var want struct{ Holm, BH []float64 }
	decodeCase(t, c, &in, &want)
	holm, bh := Holm(in.P), BenjaminiHochberg(in.P)
	for i := range in.P {
		checkNear(t, fmt.Sprintf("holm[%d]", i), holm[i], want.Holm[i])
		checkNear(t, fmt.Sprintf("bh[%d]", i), bh[i], want.BH[i])
	}
}
