package stats

import (
	"encoding/json"
	"os"
	"testing"
)

var fuzzSeeds = []string{
	`{"metric":{"type":"mean","higherIsBetter":true},"method":"frequentist","alpha":0.05,"sequentialTuning":5000,"prior":{"mean":0,"stddev":0.3},"control":"control","weights":{"control":50,"treatment":50},"variants":[{"key":"control","n":5000,"sum":50000,"sumSquares":3624375},{"key":"treatment","n":5100,"sum":57120,"sumSquares":4495862.75}]}`,
	`{"metric":{"type":"proportion"},"method":"sequential","variants":[{"key":"a","n":1000,"sum":100},{"key":"b","n":1000,"sum":120},{"key":"c","n":990,"sum":99}]}`,
	`{"metric":{"type":"ratio","higherIsBetter":false},"method":"bayesian","variants":[{"key":"a","n":100,"sum":270,"sumSquares":848.79,"denominatorSum":510,"denominatorSumSquares":2700,"sumProduct":1400},{"key":"b","n":120,"sum":300,"sumSquares":869,"denominatorSum":500,"denominatorSumSquares":2200,"sumProduct":1300}]}`,
	`{"metric":{"type":"mean"},"cuped":true,"variants":[{"key":"a","n":3001,"sum":300,"sumSquares":600,"covariateSum":210,"covariateSumSquares":415,"covariateSumProduct":-20},{"key":"b","n":3000,"sum":222,"sumSquares":555,"covariateSum":120,"covariateSumSquares":405,"covariateSumProduct":-10}]}`,
	`{"metric":{"type":"mean"},"variants":[{"key":"a","n":0,"sum":0},{"key":"b","n":1,"sum":1e308,"sumSquares":1e308}]}`,
	`{"metric":{"type":"mean"},"variants":[{"key":"a","n":2,"sum":-1e154,"sumSquares":1e308},{"key":"b","n":2,"sum":1e154,"sumSquares":1e308}]}`,
}

// FuzzParseRequest: parsing never panics, and whatever parses analyses
// without error into a response that encodes as JSON (no NaN or Inf).
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("testdata/example-request.json"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(data)
		if err != nil {
			return
		}
		resp, err := Analyze(req)
		if err != nil {
			t.Fatalf("a parsed request failed analysis: %v", err)
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("response does not encode: %v", err)
		}
	})
}

// FuzzAnalyze drives Analyze with arbitrary numbers, including NaN, Inf and
// negative counts: it returns an error or a response that encodes as JSON.
func FuzzAnalyze(f *testing.F) {
	f.Add(uint8(1), uint8(0), false, 0.05, 5000.0, int64(5000), 50000.0, 3624375.0, 0.0, 0.0, 0.0, int64(5100), 57120.0, 4495862.75, 0.0, 0.0, 0.0)
	f.Add(uint8(0), uint8(1), false, 0.1, 100.0, int64(100), 10.0, 10.0, 0.0, 0.0, 0.0, int64(90), 12.0, 12.0, 0.0, 0.0, 0.0)
	f.Add(uint8(2), uint8(2), false, 0.05, 5000.0, int64(100), 270.0, 848.79, 510.0, 2700.0, 1400.0, int64(120), 300.0, 869.0, 500.0, 2200.0, 1300.0)
	f.Add(uint8(1), uint8(0), true, 0.05, 5000.0, int64(3001), 300.0, 600.0, 210.0, 415.0, -20.0, int64(3000), 222.0, 555.0, 120.0, 405.0, -10.0)
	f.Fuzz(func(t *testing.T, metric, method uint8, cuped bool, alpha, tuning float64,
		n1 int64, s1, q1, a1, b1, c1 float64, n2 int64, s2, q2, a2, b2, c2 float64) {
		req := Request{
			Metric:           Metric{Type: []MetricType{MetricProportion, MetricMean, MetricRatio}[metric%3]},
			Method:           []Method{MethodFrequentist, MethodSequential, MethodBayesian}[method%3],
			Alpha:            alpha,
			SequentialTuning: tuning,
			CUPED:            cuped,
			Prior:            &Prior{Mean: 0.01, StdDev: 0.3},
		}
		arm := func(key string, n int64, s, q, a, b, c float64) Variant {
			v := Variant{Key: key, N: n, Sum: s, SumSquares: q}
			switch {
			case cuped:
				v.CovariateSum, v.CovariateSumSquares, v.CovariateSumProduct = a, b, c
			case req.Metric.Type == MetricRatio:
				v.DenominatorSum, v.DenominatorSumSquares, v.SumProduct = a, b, c
			}
			if req.Metric.Type == MetricProportion {
				v.SumSquares = 0
			}
			return v
		}
		req.Variants = []Variant{arm("control", n1, s1, q1, a1, b1, c1), arm("treatment", n2, s2, q2, a2, b2, c2)}
		resp, err := Analyze(req)
		if err != nil {
			return
		}
		if _, err := json.Marshal(resp); err != nil {
			t.Fatalf("response does not encode: %v\nrequest %+v", err, req)
		}
	})
}

// FuzzParseDesign: parsing never panics, and every calculation on a parsed
// design gives a plan that encodes as JSON, with non-negative unit counts.
func FuzzParseDesign(f *testing.F) {
	f.Add([]byte(`{"metric":"proportion","baseline":0.05,"mde":0.1,"relative":true}`))
	f.Add([]byte(`{"metric":"mean","baseline":50,"stdDev":20,"mde":2,"alpha":0.01,"power":0.9,"weights":[70,30],"units":40000}`))
	f.Add([]byte(`{"metric":"proportion","baseline":0.3,"mde":-0.02,"weights":[50,25,25],"units":20000}`))
	f.Add([]byte(`{"metric":"mean","baseline":1,"stdDev":1e300,"mde":1e-300,"units":9}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDesign(data)
		if err != nil {
			return
		}
		for name, calc := range map[string]func(Design) (Plan, error){"SampleSize": SampleSize, "Power": Power, "MinimumDetectableEffect": MinimumDetectableEffect} {
			plan, err := calc(d)
			if err != nil {
				continue
			}
			if _, err := json.Marshal(plan); err != nil {
				t.Fatalf("%s: plan does not encode: %v", name, err)
			}
			for _, n := range plan.UnitsPerArm {
				if n < 0 {
					t.Fatalf("%s: negative units %v", name, plan.UnitsPerArm)
				}
			}
		}
	})
}
