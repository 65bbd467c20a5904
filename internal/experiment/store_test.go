package experiment_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/experiment"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
)

// TestEveryStepIsOneVersionedAuditedCommit runs a lifecycle against a real
// store: each step is one commit whose versions and audit entries carry
// the step's action and the user's reason, and the flag's state gets a new
// version exactly when the step changes what it serves.
func TestEveryStepIsOneVersionedAuditedCommit(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "weir.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	data, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := flagmodel.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compute(&store.Config{}, file, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, p.Changeset("key:setup", "bootstrap", "apply")); err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(filepath.Join("testdata", "checkout-flow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := flagmodel.ParseExperiment(def)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		reason string
		plan   func(cfg *store.Config, r experiment.Request) (*experiment.Step, error)
	}{
		{"test the one-page checkout", func(cfg *store.Config, r experiment.Request) (*experiment.Step, error) {
			return experiment.Create(cfg, *e, r)
		}},
		{"design reviewed", func(cfg *store.Config, r experiment.Request) (*experiment.Step, error) {
			return experiment.Start(cfg, "checkout-flow", experiment.Traffic{DailyUnits: 50000}, r)
		}},
		{"sample size reached", func(cfg *store.Config, r experiment.Request) (*experiment.Step, error) {
			return experiment.Stop(cfg, "checkout-flow", r)
		}},
		{"no lift on purchases", func(cfg *store.Config, r experiment.Request) (*experiment.Step, error) {
			return experiment.Decide(cfg, "checkout-flow", experiment.Decision{Outcome: flagmodel.OutcomeRollback}, r)
		}},
		{"kept for the record", func(cfg *store.Config, r experiment.Request) (*experiment.Step, error) {
			return experiment.Archive(cfg, "checkout-flow", r)
		}},
	}
	for i, s := range steps {
		cfg, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		step, err := s.plan(cfg, experiment.Request{Actor: "key:alice", Reason: s.reason, Now: now.Add(time.Duration(i) * 24 * time.Hour)})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if _, err := st.Commit(ctx, step.Changeset); err != nil {
			t.Fatalf("step %d: commit: %v", i, err)
		}
	}

	type entry struct {
		Version        int64
		Action, Reason string
	}
	history := func(kind store.Kind, key, env string) []entry {
		vs, err := st.History(ctx, kind, key, env)
		if err != nil {
			t.Fatal(err)
		}
		var out []entry
		for _, v := range vs {
			out = append(out, entry{v.Version, v.Action, v.Reason})
		}
		return out
	}
	if got, want := history(store.KindExperiment, "checkout-flow", ""), []entry{
		{1, "experiment.create", "test the one-page checkout"},
		{2, "experiment.start", "design reviewed"},
		{3, "experiment.stop", "sample size reached"},
		{4, "experiment.decide", "no lift on purchases"},
		{5, "experiment.archive", "kept for the record"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("experiment history:\n got %+v\nwant %+v", got, want)
	}
	if got, want := history(store.KindFlagState, "checkout", "production"), []entry{
		{1, "apply", "bootstrap"},
		{2, "experiment.start", "design reviewed"},
		{3, "experiment.stop", "sample size reached"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("flag state history:\n got %+v\nwant %+v", got, want)
	}
	audit, err := st.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, a := range audit {
		if a.Action == experiment.ActionStart {
			starts = append(starts, a.Actor+" "+a.Target+" "+a.Reason)
		}
	}
	if want := []string{
		"key:alice experiment/checkout-flow design reviewed",
		"key:alice flag-state/checkout/production design reviewed",
	}; !reflect.DeepEqual(starts, want) {
		t.Errorf("audit entries of the start: %q, want %q", starts, want)
	}
	cfg, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Experiments[0].Value
	if got.State() != flagmodel.StatusArchived || got.Decision.Outcome != flagmodel.OutcomeRollback || got.ExpectedDuration == "" || len(got.Phases) != 1 {
		t.Errorf("the stored experiment: %+v", got)
	}
}
