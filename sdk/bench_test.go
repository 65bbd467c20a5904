package sdk_test

import (
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/benchshapes"
	"github.com/weirhq/weir/sdk"
)

// The four flag shapes of the evaluation-core benchmarks (internal/benchshapes),
// so that the SDK's figures compare with eval's: the SDK adds one atomic
// load and the type check.

func benchFlags() string { return string(benchshapes.Document()) }

func benchClient(tb testing.TB) *sdk.Client {
	tb.Helper()
	return newClient(tb, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(benchFlags())))
}

var (
	keyPool    = benchshapes.KeyPool
	ctxSimple  = benchshapes.SimpleContext
	ctxCountry = benchshapes.CountryContext
	ctxComplex = benchshapes.ComplexContext
	boolSink   sdk.Details[bool]
	stringSink sdk.Details[string]
)

func BenchmarkBoolDetails(b *testing.B) {
	c := benchClient(b)
	b.Run("a_boolean_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = c.BoolDetails("simple", ctxSimple, false)
		}
	})
	b.Run("b_in_10_values_7th", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = c.BoolDetails("country", ctxCountry, false)
		}
	})
	b.Run("c_split_50_50", func(b *testing.B) {
		pool := keyPool(100000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			boolSink = c.BoolDetails("split", &pool[i], false)
			i++
			if i == len(pool) {
				i = 0
			}
		}
	})
	b.Run("d_20_rules_segment_10k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			stringSink = c.StringDetails("complex", ctxComplex, "")
		}
	})
}

func BenchmarkBoolParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ok := true
		for pb.Next() {
			ok = ok && c.Bool("country", ctxCountry, false)
		}
		if !ok {
			b.Error("country is off")
		}
	})
}

func TestTheBenchmarkShapesServeTheExpectedVariantsThroughTheClient(t *testing.T) {
	c := benchClient(t)
	if d := c.BoolDetails("simple", ctxSimple, false); d.Variant != "on" || d.Reason != eval.ReasonStatic {
		t.Errorf("simple: %+v", d)
	}
	if d := c.BoolDetails("country", ctxCountry, false); d.Variant != "on" || d.Reason != eval.ReasonTargetingMatch {
		t.Errorf("country: %+v", d)
	}
	if d := c.BoolDetails("split", ctxSimple, false); d.Reason != eval.ReasonSplit {
		t.Errorf("split: %+v", d)
	}
	if d := c.StringDetails("complex", ctxComplex, ""); d.Variant != "b" || d.RuleID != "last" {
		t.Errorf("complex: %+v", d)
	}
}

func TestTypedEvaluationOfTheBenchmarkShapesDoesNotAllocate(t *testing.T) {
	c := benchClient(t)
	pool := keyPool(1000)
	i := 0
	cases := map[string]func(){
		"boolean no rules": func() { boolSink = c.BoolDetails("simple", ctxSimple, false) },
		"in list":          func() { boolSink = c.BoolDetails("country", ctxCountry, false) },
		"split": func() {
			boolSink = c.BoolDetails("split", &pool[i%len(pool)], false)
			i++
		},
		"20 rules with regex, semver, numbers and a segment": func() { stringSink = c.StringDetails("complex", ctxComplex, "") },
		"missing flag":  func() { boolSink = c.BoolDetails("nope", ctxSimple, false) },
		"type mismatch": func() { stringSink = c.StringDetails("simple", ctxSimple, "") },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(1000, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, allocs)
		}
	}
	typed := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(typedFlags)))
	if allocs := testing.AllocsPerRun(1000, func() {
		_ = typed.Number("discount", ctxSimple, 1)
		_ = typed.Object("limits", ctxSimple, nil)
	}); allocs != 0 {
		t.Errorf("number and object values: %v allocations, want 0", allocs)
	}
	var notReady *sdk.Client
	if allocs := testing.AllocsPerRun(100, func() { boolSink = notReady.BoolDetails("simple", ctxSimple, false) }); allocs != 0 {
		t.Errorf("before a snapshot: %v allocations", allocs)
	}
}

// exposureFlags are two flags that differ only in that the split of one
// serves an experiment, so their benchmarks show what recording exposures
// adds to an evaluation.
const exposureFlags = `{"environment": "production", "version": 1, "flagVersions": {"split-plain": 1, "split-experiment": 1},
 "file": {"environments": [{"key": "production"}], "flags": [
  {"key": "split-plain", "type": "boolean", "variants": {"on": true, "off": false},
   "environments": {"production": {"enabled": true, "default": {"split": {"on": 50, "off": 50}}}}},
  {"key": "split-experiment", "type": "boolean", "variants": {"on": true, "off": false},
   "environments": {"production": {"enabled": true, "default": {"split": {"on": 50, "off": 50}, "experiment": "bench"}}}}]}}`

// BenchmarkExposure evaluates a 50/50 split on the targeting key for 256
// units, with and without an experiment. Every unit was exposed before
// the timer starts, so the experiment's evaluations are de-duplicated
// exposures: the steady state of an application. exposures/op shows that
// none was recorded again.
func BenchmarkExposure(b *testing.B) {
	in := newIntake(b)
	in.setSnapshot(exposureFlags)
	c := in.client(b, sdk.WithPolling(time.Hour))
	pool := keyPool(256)
	for i := range pool {
		c.Bool("split-experiment", &pool[i], false)
	}
	for _, bc := range []struct{ name, flag string }{
		{"no_experiment", "split-plain"},
		{"experiment_deduplicated", "split-experiment"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := c.EventStats().Recorded
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				boolSink = c.BoolDetails(bc.flag, &pool[i], false)
				i = (i + 1) % len(pool)
			}
			b.ReportMetric(float64(c.EventStats().Recorded-before)/float64(b.N), "exposures/op")
		})
	}
	b.Run("experiment_deduplicated_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_ = c.Bool("split-experiment", &pool[i], false)
				i = (i + 1) % len(pool)
			}
		})
	})
}
