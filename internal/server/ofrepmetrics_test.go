package server

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/eval"
)

func TestEvaluationCountersHaveBoundedLabels(t *testing.T) {
	e := newEvalCounters()
	res := eval.Result{Variant: "on", Reason: eval.ReasonTargetingMatch}
	for i := range maxFlagLabels + 100 {
		e.count(fmt.Sprintf("flag-%d", i), true, &res)
	}
	for i := range 1000 {
		e.count(fmt.Sprintf("made-up-%d", i), false, &eval.Result{Reason: eval.ReasonError, ErrorCode: eval.ErrorFlagNotFound})
	}
	e.count("flag-0", true, &res)
	got := counterValues(t, e.vec)
	if len(got) != maxFlagLabels+2 {
		t.Fatalf("%d label combinations, want %d flags + _other + _unknown", len(got), maxFlagLabels)
	}
	for labels, want := range map[string]float64{
		"flag-0/on/TARGETING_MATCH":   2,
		"_other/on/TARGETING_MATCH":   100, // the flags past the cap
		"_unknown//ERROR":             1000,
		"flag-499/on/TARGETING_MATCH": 1,
	} {
		if got[labels] != want {
			t.Errorf("%s counted %v, want %v", labels, got[labels], want)
		}
	}
}

// counterValues gathers a counter vector as "flag/variant/reason" → value.
func counterValues(t *testing.T, vec *prometheus.CounterVec) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(vec)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			out[labels["flag"]+"/"+labels["variant"]+"/"+labels["reason"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestCountingAnEvaluationDoesNotAllocate(t *testing.T) {
	e := newEvalCounters()
	res := eval.Result{Variant: "on", Reason: eval.ReasonSplit}
	e.count("checkout", true, &res)
	if n := testing.AllocsPerRun(1000, func() { e.count("checkout", true, &res) }); n != 0 {
		t.Fatalf("%v allocations per counted evaluation", n)
	}
}

// BenchmarkEvaluationCounters compares counting one OFREP evaluation
// with the cached counter against CounterVec.WithLabelValues.
func BenchmarkEvaluationCounters(b *testing.B) {
	res := eval.Result{Variant: "treatment", Reason: eval.ReasonSplit}
	b.Run("cached", func(b *testing.B) {
		e := newEvalCounters()
		for i := range 100 {
			e.count(fmt.Sprintf("flag-%03d", i), true, &res)
		}
		for b.Loop() {
			e.count("flag-042", true, &res)
		}
	})
	b.Run("WithLabelValues", func(b *testing.B) {
		vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"flag", "variant", "reason"})
		for b.Loop() {
			vec.WithLabelValues("flag-042", res.Variant, res.Reason.String()).Inc()
		}
	})
}
