package plan

import (
	"strings"
	"testing"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

const file = `
environments: [{key: production}]
segments: [{key: beta, included: [u1]}]
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: off}}
`

func parse(t *testing.T, doc string) *flagmodel.File {
	t.Helper()
	f, err := flagmodel.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// configOf builds the stored configuration a commit of f would leave, each
// object at version 1.
func configOf(f *flagmodel.File) *store.Config {
	cfg := &store.Config{}
	for _, e := range f.Environments {
		cfg.Environments = append(cfg.Environments, store.Versioned[flagmodel.Environment]{Value: e, Version: 1})
	}
	for _, s := range f.Segments {
		cfg.Segments = append(cfg.Segments, store.Versioned[flagmodel.Segment]{Value: s, Version: 1})
	}
	for _, fl := range f.Flags {
		for _, st := range fl.Environments {
			st.Version = 1
		}
		cfg.Flags = append(cfg.Flags, store.Versioned[flagmodel.Flag]{Value: fl, Version: 1})
	}
	for _, m := range f.Metrics {
		cfg.Metrics = append(cfg.Metrics, store.Versioned[flagmodel.Metric]{Value: m, Version: 1})
	}
	return cfg
}

func TestPlanningAFileOntoNothingCreatesEverything(t *testing.T) {
	p, err := Compute(&store.Config{}, parse(t, file), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Counts(); c[OpCreate] != 4 || len(p.Items) != 4 {
		t.Fatalf("counts %v, items %+v", c, p.Items)
	}
	cs := p.Changeset("alice", "first", "apply")
	if len(cs.Changes) != 4 {
		t.Fatalf("%d changes", len(cs.Changes))
	}
	for _, c := range cs.Changes {
		if c.ExpectedVersion != 0 {
			t.Errorf("a creation must expect version 0: %+v", c)
		}
	}
}

func TestPlanningTheSameFileAgainChangesNothing(t *testing.T) {
	f := parse(t, file)
	p, err := Compute(configOf(parse(t, file)), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || len(p.Changeset("a", "r", "apply").Changes) != 0 {
		t.Fatalf("plan not empty: %+v", p.Items)
	}
}

func TestAChangedStateIsAnUpdateWithItsDiffAndExpectedVersion(t *testing.T) {
	changed := strings.Replace(file, "default: {variant: off}", "default: {variant: on}", 1)
	p, err := Compute(configOf(parse(t, file)), parse(t, changed), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var upd []Item
	for _, it := range p.Items {
		if it.Op == OpUpdate {
			upd = append(upd, it)
		}
	}
	if len(upd) != 1 || upd[0].Kind != store.KindFlagState || upd[0].Env != "production" {
		t.Fatalf("updates %+v", upd)
	}
	want := []string{`- default.variant: "off"`, `+ default.variant: "on"`}
	if strings.Join(upd[0].Diff, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff %q, want %q", upd[0].Diff, want)
	}
	if cs := p.Changeset("a", "r", "apply"); cs.Changes[0].ExpectedVersion != 1 {
		t.Errorf("expected version %d, want 1", cs.Changes[0].ExpectedVersion)
	}
}

func TestPruneDeletesWhatTheFileNoLongerNames(t *testing.T) {
	cur := configOf(parse(t, file))
	empty := parse(t, "environments: [{key: production}]")
	p, _ := Compute(cur, empty, Options{})
	if !p.Empty() {
		t.Fatalf("without prune nothing is deleted: %+v", p.Items)
	}
	p, _ = Compute(cur, empty, Options{Prune: true})
	if c := p.Counts(); c[OpDelete] != 3 { // segment, flag and its production state
		t.Fatalf("with prune: %v", c)
	}
}

func TestMergeKeepsStatesOfEnvironmentsTheFileDoesNotMention(t *testing.T) {
	cur := configOf(parse(t, `
environments: [{key: production}, {key: staging}]
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: off}}
      staging: {enabled: true, default: {variant: on}}
`))
	desired := parse(t, `
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: false}
`)
	merged := Merge(cur, desired, Options{})
	if err := merged.Validate(); err != nil {
		t.Fatal(err)
	}
	fl := merged.Flags[0]
	if fl.Environments["staging"] == nil || fl.Environments["production"].Enabled {
		t.Errorf("merged states %+v", fl.Environments)
	}
}

func TestMetricsArePlannedLikeSegments(t *testing.T) {
	const withMetrics = file + `
metrics:
  - {key: purchase, type: conversion, event: purchase}
  - {key: revenue, type: sum, event: purchase}
`
	cur := configOf(parse(t, withMetrics))
	if f := FileOf(cur); len(f.Metrics) != 2 {
		t.Fatalf("FileOf lost the metrics: %+v", f.Metrics)
	}
	changed := strings.Replace(withMetrics, "type: sum", "type: mean", 1)
	p, err := Compute(cur, parse(t, changed), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, it := range p.Items {
		if it.Kind == store.KindMetric {
			ops = append(ops, string(it.Op)+" "+it.Key+" "+strings.Join(it.Diff, ","))
		}
	}
	want := []string{"unchanged purchase ", `update revenue - type: "sum",+ type: "mean"`}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("metric items %q, want %q", ops, want)
	}
	// A file without metrics leaves them alone unless pruning.
	p, _ = Compute(cur, parse(t, file), Options{})
	if !p.Empty() {
		t.Errorf("a file without metrics changed something: %+v", p.Items)
	}
	p, _ = Compute(cur, parse(t, file), Options{Prune: true})
	if c := p.Counts(); c[OpDelete] != 2 {
		t.Errorf("pruning a file without metrics: %v, want both metrics deleted", c)
	}
	if merged := Merge(cur, parse(t, file), Options{}); len(merged.Metrics) != 2 {
		t.Errorf("Merge without pruning kept %d metrics, want 2", len(merged.Metrics))
	}
}

func TestApplyFollowsMetricAndExperimentChanges(t *testing.T) {
	base := configOf(parse(t, file))
	exp := flagmodel.Experiment{Key: "x", Environment: "production", Flag: "checkout", Control: "off", Treatments: []string{"on"}}
	cs := &store.Changeset{Changes: []store.Change{
		{Kind: store.KindMetric, Key: "purchase", Metric: &flagmodel.Metric{Key: "purchase", Type: flagmodel.MetricCount, Event: "purchase"}},
		{Kind: store.KindExperiment, Key: "x", Experiment: &exp},
	}}
	next, err := Apply(base, cs, store.Committed{Versions: []int64{1, 1}, AuditSeq: 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Metrics) != 1 || len(next.Experiments) != 1 || next.Experiments[0].Value.Key != "x" || len(base.Experiments) != 0 {
		t.Fatalf("Apply: metrics %+v, experiments %+v (base experiments %d)", next.Metrics, next.Experiments, len(base.Experiments))
	}
	del := &store.Changeset{Changes: []store.Change{{Kind: store.KindExperiment, Key: "x", Delete: true}}}
	if after, _ := Apply(next, del, store.Committed{Versions: []int64{2}, AuditSeq: 10}); len(after.Experiments) != 0 {
		t.Errorf("a deleted experiment stayed: %+v", after.Experiments)
	}
}
