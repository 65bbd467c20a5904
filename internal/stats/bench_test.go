package stats

import (
	"os"
	"testing"
)

func benchmarkAnalyze(b *testing.B, req Request) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(req); err != nil {
			b.Fatal(err)
		}
	}
}

func exampleRequest(b *testing.B) Request {
	data, err := os.ReadFile("testdata/example-request.json")
	if err != nil {
		b.Fatal(err)
	}
	req, err := ParseRequest(data)
	if err != nil {
		b.Fatal(err)
	}
	return req
}

func BenchmarkAnalyzeFrequentist(b *testing.B) {
	benchmarkAnalyze(b, exampleRequest(b))
}

func BenchmarkAnalyzeSequential(b *testing.B) {
	req := exampleRequest(b)
	req.Method = MethodSequential
	benchmarkAnalyze(b, req)
}

func BenchmarkAnalyzeBayesian(b *testing.B) {
	req := exampleRequest(b)
	req.Method = MethodBayesian
	benchmarkAnalyze(b, req)
}

func BenchmarkAnalyzeCUPEDFourArms(b *testing.B) {
	v := Variant{N: 3000, Sum: 300, SumSquares: 600, CovariateSum: 210, CovariateSumSquares: 415, CovariateSumProduct: 150}
	req := Request{Metric: Metric{Type: MetricMean}, CUPED: true}
	for _, k := range []string{"control", "b", "c", "d"} {
		v.Key = k
		v.Sum += 10
		v.SumSquares += 30
		req.Variants = append(req.Variants, v)
	}
	benchmarkAnalyze(b, req)
}

func BenchmarkParseRequest(b *testing.B) {
	data, err := os.ReadFile("testdata/example-request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSampleSizeProportion(b *testing.B) {
	d := Design{Metric: MetricProportion, Baseline: 0.05, MDE: 0.1, Relative: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SampleSize(d); err != nil {
			b.Fatal(err)
		}
	}
}
