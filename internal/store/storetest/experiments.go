package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// experimentCases are the conformance cases of metrics and experiments.
var experimentCases = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"metrics and experiments are versioned, audited and loaded", metricsAndExperimentsAreVersioned},
	{"an experiment step and its flag state commit together or not at all", experimentStepIsAtomic},
	{"a deleted metric or experiment leaves load and keeps its history", metricAndExperimentDeletion},
	{"metric and experiment changes are checked like the others", malformedExperimentChanges},
}

func metric(key string) *flagmodel.Metric {
	return &flagmodel.Metric{Key: key, Type: flagmodel.MetricConversion, Event: key, ConversionWindow: "7d"}
}

func draftExperiment(key string) *flagmodel.Experiment {
	return &flagmodel.Experiment{
		Key: key, Environment: "production", Flag: "checkout",
		Control: "off", Treatments: []string{"on"},
		Metrics: flagmodel.ExperimentMetrics{Primary: "purchase"},
		Status:  flagmodel.StatusDraft,
	}
}

// running returns e as the lifecycle leaves it after a start.
func running(e *flagmodel.Experiment) *flagmodel.Experiment {
	r := *e
	r.Status = flagmodel.StatusRunning
	r.SampleSize = flagmodel.SampleSizes{{Variant: "off", Units: 3843}, {Variant: "on", Units: 3843}}
	r.ExpectedDuration = "12d"
	r.Phases = []flagmodel.Phase{{
		Number: 1, Seed: e.Key + ".1", Allocation: 50000,
		Weights:   flagmodel.Weights{{Variant: "off", Weight: 50000}, {Variant: "on", Weight: 50000}},
		Traffic:   &flagmodel.Traffic{Seed: e.Key + ".traffic", From: 0, To: 50000},
		StartedAt: time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC),
	}}
	return &r
}

func metricsAndExperimentsAreVersioned(t *testing.T, s store.Store) {
	seed(t, s)
	c := mustCommit(t, s, changeset("experiment.create",
		store.Change{Kind: store.KindMetric, Key: "purchase", Metric: metric("purchase")},
		store.Change{Kind: store.KindExperiment, Key: "checkout-test", Experiment: draftExperiment("checkout-test")}))
	if want := []int64{1, 1}; !reflect.DeepEqual(c.Versions, want) {
		t.Fatalf("creation versions %v, want %v", c.Versions, want)
	}
	started := running(draftExperiment("checkout-test"))
	mustCommit(t, s, &store.Changeset{Actor: "bob", Reason: "ready", Action: "experiment.start", Changes: []store.Change{
		{Kind: store.KindExperiment, Key: "checkout-test", ExpectedVersion: 1, Experiment: started},
		setState("checkout", "production", 1, true),
	}})

	cfg := mustLoad(t, s)
	if len(cfg.Metrics) != 1 || cfg.Metrics[0].Version != 1 || !reflect.DeepEqual(cfg.Metrics[0].Value, *metric("purchase")) {
		t.Errorf("Load metrics = %+v, want purchase at version 1", cfg.Metrics)
	}
	if len(cfg.Experiments) != 1 || cfg.Experiments[0].Version != 2 {
		t.Fatalf("Load experiments = %+v, want checkout-test at version 2", cfg.Experiments)
	}
	if got := cfg.Experiments[0].Value; !reflect.DeepEqual(got, *started) {
		t.Errorf("the experiment does not round-trip:\n got %+v\nwant %+v", got, *started)
	}
	if st := stateOf(cfg, "checkout", "production"); st == nil || st.Version != 2 {
		t.Errorf("the flag state committed with the start: %+v, want version 2", st)
	}

	h := mustHistory(t, s, store.KindExperiment, "checkout-test", "")
	if len(h) != 2 || h[1].Actor != "bob" || h[1].Reason != "ready" || h[1].Action != "experiment.start" {
		t.Fatalf("history = %+v, want 2 versions, the second by bob for \"ready\"", h)
	}
	var targets []string
	for _, e := range mustAudit(t, s)[4:] {
		targets = append(targets, e.Action+" "+e.Target)
	}
	want := []string{
		"experiment.create metric/purchase",
		"experiment.create experiment/checkout-test",
		"experiment.start experiment/checkout-test",
		"experiment.start flag-state/checkout/production",
	}
	if !reflect.DeepEqual(targets, want) {
		t.Errorf("audit entries %q, want %q", targets, want)
	}
}

func experimentStepIsAtomic(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("experiment.create",
		store.Change{Kind: store.KindExperiment, Key: "checkout-test", Experiment: draftExperiment("checkout-test")}))
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	before := capture(t, s)
	// The start was planned from flag state version 1; the flag moved on.
	_, err := s.Commit(context.Background(), changeset("experiment.start",
		store.Change{Kind: store.KindExperiment, Key: "checkout-test", ExpectedVersion: 1, Experiment: running(draftExperiment("checkout-test"))},
		setState("checkout", "production", 1, true)))
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Current != 2 {
		t.Fatalf("Commit = %v, want a conflict on the flag state at version 2", err)
	}
	assertUnchanged(t, before, capture(t, s))
	if cfg := mustLoad(t, s); cfg.Experiments[0].Version != 1 || cfg.Experiments[0].Value.Status != flagmodel.StatusDraft {
		t.Errorf("the experiment changed although its step failed: %+v", cfg.Experiments[0])
	}
}

func metricAndExperimentDeletion(t *testing.T, s store.Store) {
	mustCommit(t, s, changeset("apply",
		store.Change{Kind: store.KindMetric, Key: "purchase", Metric: metric("purchase")},
		store.Change{Kind: store.KindMetric, Key: "signup", Metric: metric("signup")},
		store.Change{Kind: store.KindExperiment, Key: "x", Experiment: draftExperiment("x")}))
	mustCommit(t, s, changeset("metric.delete",
		store.Change{Kind: store.KindMetric, Key: "purchase", ExpectedVersion: 1, Delete: true},
		store.Change{Kind: store.KindExperiment, Key: "x", ExpectedVersion: 1, Delete: true}))
	cfg := mustLoad(t, s)
	if len(cfg.Metrics) != 1 || cfg.Metrics[0].Value.Key != "signup" || len(cfg.Experiments) != 0 {
		t.Errorf("after deleting: metrics %+v, experiments %+v", cfg.Metrics, cfg.Experiments)
	}
	if h := mustHistory(t, s, store.KindMetric, "purchase", ""); len(h) != 2 || !h[1].Deleted {
		t.Errorf("history of a deleted metric = %+v, want its version and the deletion", h)
	}
	// Re-created, it continues its numbering.
	c := mustCommit(t, s, changeset("metric.create", store.Change{Kind: store.KindMetric, Key: "purchase", Metric: metric("purchase")}))
	if c.Versions[0] != 3 {
		t.Errorf("re-created metric version %d, want 3", c.Versions[0])
	}
}

func malformedExperimentChanges(t *testing.T, s store.Store) {
	seed(t, s)
	before := capture(t, s)
	tests := []struct {
		name string
		ch   store.Change
	}{
		{"a metric under the experiment kind", store.Change{Kind: store.KindExperiment, Key: "purchase", Metric: metric("purchase")}},
		{"an experiment under the metric kind", store.Change{Kind: store.KindMetric, Key: "x", Experiment: draftExperiment("x")}},
		{"an experiment with another key", store.Change{Kind: store.KindExperiment, Key: "y", Experiment: draftExperiment("x")}},
		{"a metric with an environment", store.Change{Kind: store.KindMetric, Key: "purchase", Env: "production", Metric: metric("purchase")}},
		{"a deleted experiment that never existed", store.Change{Kind: store.KindExperiment, Key: "x", Delete: true}},
	}
	for _, tt := range tests {
		_, err := s.Commit(context.Background(), changeset("apply", tt.ch))
		if !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Commit = %v, want ErrInvalid or ErrNotFound", tt.name, err)
		}
	}
	assertUnchanged(t, before, capture(t, s))
}
