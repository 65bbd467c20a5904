package server

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/eval"
)

// Label values of weir_ofrep_evaluations_total that are not flag keys or
// variants.
const (
	// otherLabel stands for the flags (or a flag's variants) beyond the
	// label caps.
	otherLabel = "_other"
	// unknownFlagLabel stands for keys the environment does not have:
	// they come from the request's URL, so they never become labels.
	unknownFlagLabel = "_unknown"
	// maxFlagLabels caps the distinct flag label values, and
	// maxVariantLabels the (variant, reason) pairs of one flag label that
	// keep their variant as its label value.
	maxFlagLabels    = 500
	maxVariantLabels = 64
)

// evalCounters counts OFREP evaluations by flag, variant and reason with
// bounded cardinality: at most maxFlagLabels flags get their own label
// value, the rest share "_other".
//
// CounterVec.WithLabelValues hashes every label value and takes a lock on
// each call; on the busiest path of the server that would cost more than
// the evaluation. So each label combination's Counter is looked up once
// and kept: an evaluation costs one lock-free map read (copy-on-write, as
// new flags are rare), a scan of that flag's few (variant, reason) pairs
// and an atomic add.
type evalCounters struct {
	vec *prometheus.CounterVec

	mu      sync.Mutex // serializes adding flags
	flags   atomic.Pointer[map[string]*flagCounters]
	other   *flagCounters
	unknown *flagCounters
}

// flagCounters holds one flag label value's counters.
type flagCounters struct {
	label   string
	vec     *prometheus.CounterVec
	mu      sync.Mutex // serializes adding pairs
	entries atomic.Pointer[[]variantCounter]
}

type variantCounter struct {
	variant string
	reason  eval.Reason
	c       prometheus.Counter
}

func newEvalCounters() *evalCounters {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_ofrep_evaluations_total",
		Help: "OFREP evaluations by flag, variant and reason. At most 500 flags get their own flag label (the rest are \"_other\"); keys the environment does not have are \"_unknown\"."},
		[]string{"flag", "variant", "reason"})
	e := &evalCounters{vec: vec, other: newFlagCounters(otherLabel, vec), unknown: newFlagCounters(unknownFlagLabel, vec)}
	empty := map[string]*flagCounters{}
	e.flags.Store(&empty)
	return e
}

func newFlagCounters(label string, vec *prometheus.CounterVec) *flagCounters {
	f := &flagCounters{label: label, vec: vec}
	f.entries.Store(&[]variantCounter{})
	return f
}

// count records one evaluation of key. known says the environment has
// the flag.
func (e *evalCounters) count(key string, known bool, res *eval.Result) {
	if e == nil {
		return
	}
	var f *flagCounters
	switch {
	case !known:
		f = e.unknown
	default:
		f = (*e.flags.Load())[key]
		if f == nil {
			f = e.addFlag(key)
		}
	}
	f.counter(res.Variant, res.Reason).Inc()
}

func (e *evalCounters) addFlag(key string) *flagCounters {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := *e.flags.Load()
	if f := cur[key]; f != nil {
		return f
	}
	if len(cur) >= maxFlagLabels {
		return e.other
	}
	next := make(map[string]*flagCounters, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	f := newFlagCounters(key, e.vec)
	next[key] = f
	e.flags.Store(&next)
	return f
}

func (f *flagCounters) counter(variant string, reason eval.Reason) prometheus.Counter {
	for _, vc := range *f.entries.Load() {
		if vc.reason == reason && vc.variant == variant {
			return vc.c
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := *f.entries.Load()
	for _, vc := range cur {
		if vc.reason == reason && vc.variant == variant {
			return vc.c
		}
	}
	label := variant
	if len(cur) >= maxVariantLabels {
		label = otherLabel
	}
	c := f.vec.WithLabelValues(f.label, label, reason.String())
	next := append(cur[:len(cur):len(cur)], variantCounter{variant: variant, reason: reason, c: c})
	if len(cur) < 4*maxVariantLabels { // past that, keep looking the overflow up
		f.entries.Store(&next)
	}
	return c
}
