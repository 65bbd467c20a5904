package eval_test

import (
	"reflect"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/benchshapes"
)

// The four flag shapes of the evaluation-core benchmarks come from
// internal/benchshapes, which the SDK benchmarks share.

func benchFile(tb testing.TB) *flagmodel.File {
	tb.Helper()
	f, err := flagmodel.Parse(benchshapes.Document())
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func benchSnapshot(tb testing.TB) *eval.Snapshot {
	tb.Helper()
	s, err := eval.Prepare(benchFile(tb), "production")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var (
	keyPool    = benchshapes.KeyPool
	ctxSimple  = benchshapes.SimpleContext
	ctxCountry = benchshapes.CountryContext
	ctxComplex = benchshapes.ComplexContext
)

var sink eval.Result

func BenchmarkEvaluate(b *testing.B) {
	s := benchSnapshot(b)
	b.Run("a_boolean_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("simple", ctxSimple)
		}
	})
	b.Run("b_in_10_values_7th", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("country", ctxCountry)
		}
	})
	b.Run("c_split_50_50", func(b *testing.B) {
		pool := keyPool(100000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sink = s.Evaluate("split", &pool[i])
			i++
			if i == len(pool) {
				i = 0
			}
		}
	})
	b.Run("d_20_rules_segment_10k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("complex", ctxComplex)
		}
	})
}

func TestBenchmarkShapesServeTheExpectedVariants(t *testing.T) {
	s := benchSnapshot(t)
	if r := s.Evaluate("simple", ctxSimple); r.Variant != "on" || r.Reason != eval.ReasonStatic {
		t.Errorf("simple: %+v", r)
	}
	if r := s.Evaluate("country", ctxCountry); r.Variant != "on" || r.Reason != eval.ReasonTargetingMatch {
		t.Errorf("country: %+v", r)
	}
	if r := s.Evaluate("split", ctxSimple); r.Reason != eval.ReasonSplit {
		t.Errorf("split: %+v", r)
	}
	if r := s.Evaluate("complex", ctxComplex); r.Variant != "b" || r.RuleID != "last" {
		t.Errorf("complex: %+v", r)
	}
}

func TestEvaluationOfTheBenchmarkShapesDoesNotAllocate(t *testing.T) {
	s := benchSnapshot(t)
	pool := keyPool(1000)
	i := 0
	cases := map[string]func(){
		"boolean no rules": func() { sink = s.Evaluate("simple", ctxSimple) },
		"in list":          func() { sink = s.Evaluate("country", ctxCountry) },
		"split": func() {
			sink = s.Evaluate("split", &pool[i%len(pool)])
			i++
		},
		"20 rules with regex, semver, numbers and a segment": func() { sink = s.Evaluate("complex", ctxComplex) },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(1000, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, allocs)
		}
	}
}

func TestEvaluateIntoGivesWhatEvaluateGives(t *testing.T) {
	s := benchSnapshot(t)
	pool := keyPool(50)
	for _, key := range []string{"simple", "country", "split", "complex", "no-such-flag"} {
		for _, ctx := range []*eval.Context{nil, ctxSimple, ctxCountry, ctxComplex, &pool[7], &pool[31]} {
			want := s.Evaluate(key, ctx)
			got := eval.Result{Variant: "left over", ErrorMessage: "from an earlier call"}
			s.EvaluateInto(&got, key, ctx)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("EvaluateInto(%q, %+v) = %+v, Evaluate gives %+v", key, ctx, got, want)
			}
		}
	}
}
