package experiment

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.golden.yaml files")

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// world is the configuration of a store in memory: steps are committed to
// it as a store would, checking expected versions and numbering new ones.
type world struct {
	t   *testing.T
	cfg *store.Config
}

func newWorld(t *testing.T) *world {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := flagmodel.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := &store.Config{}
	for _, e := range f.Environments {
		cfg.Environments = append(cfg.Environments, store.Versioned[flagmodel.Environment]{Value: e, Version: 1})
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
	return &world{t: t, cfg: cfg}
}

func (w *world) version(c store.Change) int64 {
	switch c.Kind {
	case store.KindExperiment:
		for _, e := range w.cfg.Experiments {
			if e.Value.Key == c.Key {
				return e.Version
			}
		}
	case store.KindFlagState:
		if st := w.state(c.Key, c.Env); st != nil {
			return st.Version
		}
	}
	return 0
}

// commit applies a planned step; it fails the test when planning failed.
func (w *world) commit(step *Step, err error) flagmodel.Experiment {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("planning failed: %v", err)
	}
	if step.Changeset == nil {
		return step.Experiment
	}
	versions := make([]int64, len(step.Changeset.Changes))
	for i, c := range step.Changeset.Changes {
		cur := w.version(c)
		if c.ExpectedVersion != cur {
			w.t.Fatalf("change %d (%s %s) expects version %d, current is %d", i, c.Kind, c.Key, c.ExpectedVersion, cur)
		}
		versions[i] = cur + 1
	}
	next, err := plan.Apply(w.cfg, step.Changeset, store.Committed{Versions: versions, AuditSeq: w.cfg.AuditSeq + int64(len(versions))})
	if err != nil {
		w.t.Fatal(err)
	}
	w.cfg = next
	return step.Experiment
}

func (w *world) state(flag, env string) *flagmodel.FlagState {
	for _, f := range w.cfg.Flags {
		if f.Value.Key == flag {
			return f.Value.Environments[env]
		}
	}
	return nil
}

func (w *world) experiment(key string) flagmodel.Experiment {
	w.t.Helper()
	e, err := find(w.cfg, key)
	if err != nil {
		w.t.Fatal(err)
	}
	return e.Value
}

func at(t time.Time, reason string) Request {
	return Request{Actor: "key:alice", Reason: reason, Now: t}
}

// checkoutFlow is testdata/checkout-flow.yaml: 50% of production units,
// classic against one-page, sized on purchase.
func checkoutFlow(t *testing.T) flagmodel.Experiment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "checkout-flow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := flagmodel.ParseExperiment(data)
	if err != nil {
		t.Fatal(err)
	}
	return *e
}

// simple is a complete experiment of flag with allocation share (0 for
// all units) in layer (or none).
func simple(key, flagKey, layer string, share int) flagmodel.Experiment {
	control, treatment := "off", "on"
	if flagKey == "pricing" {
		control, treatment = "low", "high"
	}
	if flagKey == "checkout" {
		control, treatment = "classic", "express"
	}
	return flagmodel.Experiment{Key: key, Environment: "production", Flag: flagKey, Control: control, Treatments: []string{treatment},
		Allocation: share, Layer: layer, Metrics: flagmodel.ExperimentMetrics{Primary: "revenue"},
		Baseline: &flagmodel.Baseline{Mean: 20, StdDev: 40}, MDE: 0.1}
}

// in returns a world holding checkout-flow in the given status, reached
// through the lifecycle.
func in(t *testing.T, status flagmodel.ExperimentStatus) *world {
	t.Helper()
	w := newWorld(t)
	w.commit(Create(w.cfg, checkoutFlow(t), at(t0, "plan")))
	steps := map[flagmodel.ExperimentStatus][]func(cfg *store.Config) (*Step, error){
		flagmodel.StatusDraft: nil,
		flagmodel.StatusRunning: {
			func(cfg *store.Config) (*Step, error) { return Start(cfg, "checkout-flow", Traffic{}, at(t0, "go")) },
		},
		flagmodel.StatusStopped: {
			func(cfg *store.Config) (*Step, error) { return Start(cfg, "checkout-flow", Traffic{}, at(t0, "go")) },
			func(cfg *store.Config) (*Step, error) {
				return Stop(cfg, "checkout-flow", at(t0.Add(72*time.Hour), "done"))
			},
		},
		flagmodel.StatusDecided: {
			func(cfg *store.Config) (*Step, error) { return Start(cfg, "checkout-flow", Traffic{}, at(t0, "go")) },
			func(cfg *store.Config) (*Step, error) {
				return Stop(cfg, "checkout-flow", at(t0.Add(72*time.Hour), "done"))
			},
			func(cfg *store.Config) (*Step, error) {
				return Decide(cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeRollback}, at(t0.Add(96*time.Hour), "no lift"))
			},
		},
		flagmodel.StatusArchived: {
			func(cfg *store.Config) (*Step, error) { return Archive(cfg, "checkout-flow", at(t0, "abandoned")) },
		},
	}
	for _, s := range steps[status] {
		w.commit(s(w.cfg))
	}
	if e := w.experiment("checkout-flow"); e.State() != status {
		t.Fatalf("reached %s, want %s", e.State(), status)
	}
	return w
}

func TestEveryTransitionIsAllowedOrRefusedWithAReason(t *testing.T) {
	later := t0.Add(100 * time.Hour)
	edit := func(cfg *store.Config) (*Step, error) {
		e, _ := find(cfg, "checkout-flow")
		next := e.Value
		next.Allocation = 80000
		return Update(cfg, next, Traffic{}, at(later, "more traffic"))
	}
	actions := map[string]func(cfg *store.Config) (*Step, error){
		"start": func(cfg *store.Config) (*Step, error) { return Start(cfg, "checkout-flow", Traffic{}, at(later, "go")) },
		"stop":  func(cfg *store.Config) (*Step, error) { return Stop(cfg, "checkout-flow", at(later, "enough")) },
		"decide": func(cfg *store.Config) (*Step, error) {
			return Decide(cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeIterate}, at(later, "unclear"))
		},
		"archive": func(cfg *store.Config) (*Step, error) { return Archive(cfg, "checkout-flow", at(later, "tidy")) },
		"edit":    edit,
	}
	tests := []struct {
		from   flagmodel.ExperimentStatus
		action string
		to     flagmodel.ExperimentStatus // the status after an allowed step
		refuse string                     // the error of a refused one
	}{
		{flagmodel.StatusDraft, "start", flagmodel.StatusRunning, ""},
		{flagmodel.StatusDraft, "stop", "", "cannot stop: experiment is a draft; it never ran"},
		{flagmodel.StatusDraft, "decide", "", "cannot decide: experiment is a draft; it never ran"},
		{flagmodel.StatusDraft, "archive", flagmodel.StatusArchived, ""},
		{flagmodel.StatusDraft, "edit", flagmodel.StatusDraft, ""},
		{flagmodel.StatusRunning, "start", "", "cannot start: experiment is running; it already runs"},
		{flagmodel.StatusRunning, "stop", flagmodel.StatusStopped, ""},
		{flagmodel.StatusRunning, "decide", "", "cannot decide: experiment is running; stop it first"},
		{flagmodel.StatusRunning, "archive", "", "cannot archive: experiment is running; stop and decide it first"},
		{flagmodel.StatusRunning, "edit", flagmodel.StatusRunning, ""},
		{flagmodel.StatusStopped, "start", flagmodel.StatusRunning, ""},
		{flagmodel.StatusStopped, "stop", "", "cannot stop: experiment is stopped; it already stopped"},
		{flagmodel.StatusStopped, "decide", flagmodel.StatusDecided, ""},
		{flagmodel.StatusStopped, "archive", "", "cannot archive: experiment is stopped; decide it first"},
		{flagmodel.StatusStopped, "edit", "", "cannot edit: experiment is stopped; start it again to run a new phase, or create a new experiment"},
		{flagmodel.StatusDecided, "start", "", "cannot start: experiment is decided"},
		{flagmodel.StatusDecided, "stop", "", "cannot stop: experiment is decided"},
		{flagmodel.StatusDecided, "decide", "", "cannot decide: experiment is decided; it is decided already"},
		{flagmodel.StatusDecided, "archive", flagmodel.StatusArchived, ""},
		{flagmodel.StatusDecided, "edit", "", "cannot edit: experiment is decided; create a new experiment to iterate"},
		{flagmodel.StatusArchived, "start", "", "cannot start: experiment is archived"},
		{flagmodel.StatusArchived, "stop", "", "cannot stop: experiment is archived"},
		{flagmodel.StatusArchived, "decide", "", "cannot decide: experiment is archived"},
		{flagmodel.StatusArchived, "archive", "", "cannot archive: experiment is archived"},
		{flagmodel.StatusArchived, "edit", "", "cannot edit: experiment is archived; create a new experiment to iterate"},
	}
	for _, tt := range tests {
		name := "from " + string(tt.from) + " " + tt.action + " is "
		if tt.refuse == "" {
			name += "allowed"
		} else {
			name += "refused"
		}
		t.Run(name, func(t *testing.T) {
			w := in(t, tt.from)
			step, err := actions[tt.action](w.cfg)
			if tt.refuse != "" {
				var re *RefusedError
				if !errors.As(err, &re) || err.Error() != tt.refuse {
					t.Fatalf("error %v, want %q", err, tt.refuse)
				}
				return
			}
			got := w.commit(step, err)
			if got.State() != tt.to {
				t.Errorf("status after %s: %s, want %s", tt.action, got.State(), tt.to)
			}
			if want := "experiment." + tt.action; tt.action != "edit" && step.Changeset.Action != want {
				t.Errorf("action %q, want %q", step.Changeset.Action, want)
			}
		})
	}
}

func TestStartAddsExactlyTheExpectedRuleAfterTheFlagsOwnRules(t *testing.T) {
	w := in(t, flagmodel.StatusDraft)
	before := w.state("checkout", "production")
	e := w.commit(Start(w.cfg, "checkout-flow", Traffic{DailyUnits: 20000}, at(t0, "ready")))

	after := w.state("checkout", "production")
	if after.Version != before.Version+1 {
		t.Errorf("flag state version %d, want %d", after.Version, before.Version+1)
	}
	var b bytes.Buffer
	fl := *flagOf(w.cfg, "checkout")
	fl.Environments = map[string]*flagmodel.FlagState{"production": after}
	if err := flagmodel.EncodeYAML(&b, &flagmodel.File{Flags: []flagmodel.Flag{fl}}); err != nil {
		t.Fatal(err)
	}
	golden(t, "start.golden.yaml", b.String())

	p := e.Phases[0]
	if p.Number != 1 || p.Seed != "checkout-flow.1" || !p.StartedAt.Equal(t0) || !p.StoppedAt.IsZero() || p.Allocation != 50000 {
		t.Errorf("phase 1 = %+v", p)
	}
	plan, err := stats.SampleSize(stats.Design{Metric: stats.MetricProportion, Baseline: 0.1, MDE: 0.05, Relative: true})
	if err != nil {
		t.Fatal(err)
	}
	want := flagmodel.SampleSizes{{Variant: "classic", Units: plan.UnitsPerArm[0]}, {Variant: "one-page", Units: plan.UnitsPerArm[1]}}
	if !reflect.DeepEqual(e.SampleSize, want) {
		t.Errorf("sample size %+v, want %+v (the stats engine's)", e.SampleSize, want)
	}
	// 20,000 units a day, half allocated, 5% held out: 9,500 a day.
	if days := (plan.TotalUnits + 9499) / 9500; e.ExpectedDuration != flagmodel.Days(days) {
		t.Errorf("expected duration %q, want %dd", e.ExpectedDuration, days)
	}
}

func TestStartWithoutTrafficLeavesTheDurationOut(t *testing.T) {
	w := in(t, flagmodel.StatusDraft)
	e := w.commit(Start(w.cfg, "checkout-flow", Traffic{}, at(t0, "ready")))
	if e.ExpectedDuration != "" || len(e.SampleSize) != 2 {
		t.Errorf("sample size %v, duration %q; want a sample size and no duration", e.SampleSize, e.ExpectedDuration)
	}
}

func TestStopRemovesOnlyTheExperimentRule(t *testing.T) {
	w := in(t, flagmodel.StatusDraft)
	before := *w.state("checkout", "production")
	w.commit(Start(w.cfg, "checkout-flow", Traffic{}, at(t0, "go")))
	e := w.commit(Stop(w.cfg, "checkout-flow", at(t0.Add(48*time.Hour), "enough data")))

	after := *w.state("checkout", "production")
	if after.Version != before.Version+2 {
		t.Errorf("flag state version %d, want %d (start and stop)", after.Version, before.Version+2)
	}
	after.Version, before.Version = 0, 0
	if !equalJSON(after, before) || !reflect.DeepEqual(after.Targets, before.Targets) {
		t.Errorf("after stop the state differs from before start:\n got %+v\nwant %+v", after, before)
	}
	if p := e.Phases[0]; !p.StoppedAt.Equal(t0.Add(48 * time.Hour)) {
		t.Errorf("phase stopped at %v", p.StoppedAt)
	}
}

func TestAStopAfterTheRuleWasRemovedChangesOnlyTheExperiment(t *testing.T) {
	w := in(t, flagmodel.StatusRunning)
	for i := range w.cfg.Flags {
		if w.cfg.Flags[i].Value.Key == "checkout" {
			st := *w.cfg.Flags[i].Value.Environments["production"]
			st.Rules = st.Rules[:1]
			w.cfg.Flags[i].Value.Environments = map[string]*flagmodel.FlagState{"production": &st}
		}
	}
	step, err := Stop(w.cfg, "checkout-flow", at(t0.Add(time.Hour), "r"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(step.Changeset.Changes); n != 1 || step.Changeset.Changes[0].Kind != store.KindExperiment {
		t.Errorf("changes %+v, want the experiment only", step.Changeset.Changes)
	}
}

func TestANewPhaseChangesTheSeedKeepsTheRulesPlaceAndRecordsTimes(t *testing.T) {
	w := in(t, flagmodel.StatusRunning)
	t1 := t0.Add(36 * time.Hour)
	e := w.experiment("checkout-flow")
	e.Allocation = 80000
	e.Weights = flagmodel.Weights{{Variant: "classic", Weight: 60000}, {Variant: "one-page", Weight: 40000}}
	step, err := Update(w.cfg, e, Traffic{}, at(t1, "ramp up"))
	if err != nil {
		t.Fatal(err)
	}
	if step.Changeset.Action != ActionPhase {
		t.Errorf("action %q, want %q", step.Changeset.Action, ActionPhase)
	}
	got := w.commit(step, nil)
	if len(got.Phases) != 2 {
		t.Fatalf("phases %+v", got.Phases)
	}
	p1, p2 := got.Phases[0], got.Phases[1]
	if !p1.StoppedAt.Equal(t1) || !p2.StartedAt.Equal(t1) || !p2.StoppedAt.IsZero() {
		t.Errorf("phase 1 stopped %v, phase 2 started %v stopped %v; want both at %v", p1.StoppedAt, p2.StartedAt, p2.StoppedAt, t1)
	}
	if p1.Seed != "checkout-flow.1" || p2.Seed != "checkout-flow.2" || p2.Number != 2 {
		t.Errorf("seeds %q then %q", p1.Seed, p2.Seed)
	}
	// Without a layer the traffic seed stays, so the 50% already in stay
	// in the 80%.
	if *p1.Traffic != (flagmodel.Traffic{Seed: "checkout-flow.traffic", From: 0, To: 50000}) ||
		*p2.Traffic != (flagmodel.Traffic{Seed: "checkout-flow.traffic", From: 0, To: 80000}) {
		t.Errorf("traffic %+v then %+v", *p1.Traffic, *p2.Traffic)
	}
	rules := w.state("checkout", "production").Rules
	if len(rules) != 2 || rules[1].ID != "experiment:checkout-flow" || rules[1].Serve.Seed != "checkout-flow.2" || rules[1].Traffic.To != 80000 ||
		!reflect.DeepEqual(rules[1].Serve.Split, flagmodel.Weights{{Variant: "classic", Weight: 60000}, {Variant: "one-page", Weight: 40000}}) {
		t.Errorf("rules after the new phase: %+v", rules)
	}
	// The sample size follows the new weights.
	if got.SampleSize[0].Units <= got.SampleSize[1].Units {
		t.Errorf("sample size %+v: the 60%% control should hold more units than the 40%% treatment", got.SampleSize)
	}
}

func TestARunningExperimentChangesOnlyItsSplit(t *testing.T) {
	w := in(t, flagmodel.StatusRunning)
	e := w.experiment("checkout-flow")
	e.Hypothesis = "something else"
	e.MDE = 0.02
	_, err := Update(w.cfg, e, Traffic{}, at(t0, "r"))
	var ve *flagmodel.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Where != "hypothesis" || ve.Problems[1].Where != "mde" {
		t.Fatalf("Update = %v, want problems at hypothesis and mde", err)
	}
	// Sending it back unchanged, lifecycle fields and all, changes nothing.
	step, err := Update(w.cfg, w.experiment("checkout-flow"), Traffic{}, at(t0, "r"))
	if err != nil || step.Changeset != nil {
		t.Errorf("an unchanged edit: %+v, %v; want no changeset", step, err)
	}
	// Lifecycle fields cannot be written.
	e = w.experiment("checkout-flow")
	e.Status = flagmodel.StatusStopped
	if _, err := Update(w.cfg, e, Traffic{}, at(t0, "r")); !errors.As(err, &ve) || ve.Problems[0].Where != "status" {
		t.Errorf("writing the status: %v", err)
	}
}

func TestLayersAllocateDisjointRangesFirstFitAndRefuseWhenFull(t *testing.T) {
	w := newWorld(t)
	for _, e := range []flagmodel.Experiment{
		simple("a", "banner", "web", 40000),
		simple("b", "pricing", "web", 40000),
		simple("c", "checkout", "web", 30000),
	} {
		w.commit(Create(w.cfg, e, at(t0, "plan")))
	}
	a := w.commit(Start(w.cfg, "a", Traffic{}, at(t0, "go")))
	b := w.commit(Start(w.cfg, "b", Traffic{}, at(t0, "go")))
	if got := []flagmodel.Traffic{*a.Phases[0].Traffic, *b.Phases[0].Traffic}; !reflect.DeepEqual(got, []flagmodel.Traffic{
		{Seed: "web", From: 0, To: 40000}, {Seed: "web", From: 40000, To: 80000}}) {
		t.Errorf("layer ranges %+v, want [0, 40000) and [40000, 80000) of seed web", got)
	}
	_, err := Start(w.cfg, "c", Traffic{}, at(t0, "go"))
	const full = `cannot start: layer "web" in production has no room for 30% of units (a holds [0, 40000), b holds [40000, 80000)); the largest free range is 20%: lower the allocation or stop an experiment of the layer`
	if err == nil || err.Error() != full {
		t.Fatalf("a full layer: %v\nwant %s", err, full)
	}
	w.commit(Stop(w.cfg, "a", at(t0.Add(time.Hour), "done")))
	c := w.commit(Start(w.cfg, "c", Traffic{}, at(t0.Add(time.Hour), "go")))
	if got := *c.Phases[0].Traffic; got != (flagmodel.Traffic{Seed: "web", From: 0, To: 30000}) {
		t.Errorf("after a left: c took %+v, want the first free range [0, 30000)", got)
	}
	// The rule carries the range, under the layer's seed.
	rules := w.state("checkout", "production").Rules
	if r := rules[len(rules)-1]; r.Traffic == nil || *r.Traffic != *c.Phases[0].Traffic {
		t.Errorf("rule traffic %+v, want %+v", r.Traffic, c.Phases[0].Traffic)
	}
}

func TestALayerRangeGrowsInPlaceWhenItCanAndMovesWhenItCannot(t *testing.T) {
	w := newWorld(t)
	w.commit(Create(w.cfg, simple("a", "banner", "web", 20000), at(t0, "plan")))
	w.commit(Create(w.cfg, simple("b", "pricing", "web", 20000), at(t0, "plan")))
	w.commit(Start(w.cfg, "a", Traffic{}, at(t0, "go"))) // [0, 20000)
	w.commit(Start(w.cfg, "b", Traffic{}, at(t0, "go"))) // [20000, 40000)
	b := w.experiment("b")
	b.Allocation = 30000
	b = w.commit(Update(w.cfg, b, Traffic{}, at(t0.Add(time.Hour), "ramp")))
	if got := *b.Phases[1].Traffic; got != (flagmodel.Traffic{Seed: "web", From: 20000, To: 50000}) {
		t.Errorf("b grown to %+v, want [20000, 50000): in place, keeping its units", got)
	}
	a := w.experiment("a")
	a.Allocation = 30000
	a = w.commit(Update(w.cfg, a, Traffic{}, at(t0.Add(2*time.Hour), "ramp")))
	if got := *a.Phases[1].Traffic; got != (flagmodel.Traffic{Seed: "web", From: 50000, To: 80000}) {
		t.Errorf("a grown to %+v, want [50000, 80000): b holds what follows its range", got)
	}
}

func TestStartRefusesWhatCannotRun(t *testing.T) {
	t.Run("an experiment without a primary metric, baseline or MDE", func(t *testing.T) {
		w := newWorld(t)
		e := simple("x", "banner", "", 0)
		e.Metrics, e.Baseline, e.MDE = flagmodel.ExperimentMetrics{}, nil, 0
		w.commit(Create(w.cfg, e, at(t0, "plan")))
		_, err := Start(w.cfg, "x", Traffic{}, at(t0, "go"))
		var ve *flagmodel.ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 3 || ve.Problems[0].Where != "metrics.primary" || ve.Problems[1].Where != "baseline" || ve.Problems[2].Where != "mde" {
			t.Fatalf("Start = %v, want the three missing fields", err)
		}
	})
	t.Run("a baseline of the wrong kind for the primary metric", func(t *testing.T) {
		w := newWorld(t)
		e := simple("x", "banner", "", 0)
		e.Metrics.Primary = "purchase" // a conversion, but the baseline is a mean
		_, err := Create(w.cfg, e, at(t0, "plan"))
		if err == nil || err.Error() != `baseline: the primary metric "purchase" is a conversion: give its baseline rate` {
			t.Errorf("Create = %v", err)
		}
	})
	t.Run("a flag disabled in the environment", func(t *testing.T) {
		w := newWorld(t)
		e := simple("x", "checkout", "", 0)
		e.Environment = "staging"
		w.commit(Create(w.cfg, e, at(t0, "plan")))
		_, err := Start(w.cfg, "x", Traffic{}, at(t0, "go"))
		if err == nil || err.Error() != `cannot start: flag "checkout" is disabled in staging; enable it first, or its rules serve nobody` {
			t.Errorf("Start = %v", err)
		}
	})
	t.Run("a flag whose own rule matches every unit", func(t *testing.T) {
		w := newWorld(t)
		for i := range w.cfg.Flags {
			if w.cfg.Flags[i].Value.Key == "banner" {
				st := *w.cfg.Flags[i].Value.Environments["production"]
				st.Rules = []flagmodel.Rule{{ID: "everyone", Serve: flagmodel.Serve{Variant: "on"}}}
				w.cfg.Flags[i].Value.Environments = map[string]*flagmodel.FlagState{"production": &st}
			}
		}
		w.commit(Create(w.cfg, simple("x", "banner", "", 0), at(t0, "plan")))
		_, err := Start(w.cfg, "x", Traffic{}, at(t0, "go"))
		if err == nil || !strings.Contains(err.Error(), `cannot start: rule "everyone" of flag "banner" in production matches every unit`) {
			t.Errorf("Start = %v", err)
		}
	})
	t.Run("a second experiment on the same flag outside a shared layer", func(t *testing.T) {
		w := in(t, flagmodel.StatusRunning)
		w.commit(Create(w.cfg, simple("other", "checkout", "", 10000), at(t0, "plan")))
		_, err := Start(w.cfg, "other", Traffic{}, at(t0, "go"))
		if err == nil || !strings.Contains(err.Error(), `flag "checkout" already serves running experiment "checkout-flow" in production`) {
			t.Errorf("Start = %v", err)
		}
	})
	t.Run("a layer that buckets another unit", func(t *testing.T) {
		w := newWorld(t)
		a, b := simple("a", "banner", "web", 10000), simple("b", "pricing", "web", 10000)
		b.BucketBy = "accountId"
		w.commit(Create(w.cfg, a, at(t0, "plan")))
		w.commit(Create(w.cfg, b, at(t0, "plan")))
		w.commit(Start(w.cfg, "a", Traffic{}, at(t0, "go")))
		_, err := Start(w.cfg, "b", Traffic{}, at(t0, "go"))
		if err == nil || !strings.Contains(err.Error(), `layer "web" buckets units by "targetingKey" in production (experiment "a"), this experiment by "accountId"`) {
			t.Errorf("Start = %v", err)
		}
	})
}

func TestDecideRecordsTheDecisionAndMayShipTheDefault(t *testing.T) {
	w := in(t, flagmodel.StatusStopped)
	_, err := Decide(w.cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeRollback, SetDefault: true}, at(t0, "no"))
	var ve *flagmodel.ValidationError
	if !errors.As(err, &ve) || ve.Problems[0].Where != "decision.defaultSet" {
		t.Errorf("a rollback that sets the default: %v", err)
	}
	if _, err := Decide(w.cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeShip, Variant: "express"}, at(t0, "yes")); !errors.As(err, &ve) ||
		ve.Problems[0].Where != "decision.variant" {
		t.Errorf("shipping a variant outside the experiment: %v", err)
	}
	if _, err := Decide(w.cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeShip, Variant: "one-page"}, at(t0, " ")); !errors.As(err, &ve) ||
		ve.Problems[0].Where != "decision.reason" {
		t.Errorf("a decision without a reason: %v", err)
	}
	before := w.state("checkout", "production").Version
	step, err := Decide(w.cfg, "checkout-flow", Decision{Outcome: flagmodel.OutcomeShip, Variant: "one-page", SetDefault: true}, at(t0.Add(100*time.Hour), "+6% purchases"))
	e := w.commit(step, err)
	st := w.state("checkout", "production")
	if st.Default.Variant != "one-page" || st.Version != before+1 || len(step.Changeset.Changes) != 2 {
		t.Errorf("after shipping with the default: default %+v at version %d, %d changes", st.Default, st.Version, len(step.Changeset.Changes))
	}
	d := e.Decision
	if d.Outcome != flagmodel.OutcomeShip || d.Variant != "one-page" || d.Reason != "+6% purchases" || d.DecidedBy != "key:alice" ||
		!d.DecidedAt.Equal(t0.Add(100*time.Hour)) || !d.DefaultSet {
		t.Errorf("decision %+v", d)
	}
}

func TestCheckKeepsWhatExperimentsNeed(t *testing.T) {
	w := in(t, flagmodel.StatusRunning)
	w.commit(Create(w.cfg, simple("old", "banner", "", 0), at(t0, "plan")))
	w.commit(Archive(w.cfg, "old", at(t0, "never mind")))
	edit := func(change func(f *flagmodel.File)) error {
		// A deep copy: the file must not share rules with the world.
		var b bytes.Buffer
		if err := flagmodel.EncodeJSON(&b, plan.FileOf(w.cfg)); err != nil {
			t.Fatal(err)
		}
		f, err := flagmodel.Parse(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		change(f)
		return Check(f, w.cfg.Experiments)
	}
	flagState := func(f *flagmodel.File) *flagmodel.FlagState {
		for i := range f.Flags {
			if f.Flags[i].Key == "checkout" {
				return f.Flags[i].Environments["production"]
			}
		}
		return nil
	}
	tests := []struct {
		name   string
		change func(f *flagmodel.File)
		want   string // "" when allowed
	}{
		{"nothing changed", func(*flagmodel.File) {}, ""},
		{"the kill switch", func(f *flagmodel.File) { flagState(f).Enabled = false }, ""},
		{"another rule added", func(f *flagmodel.File) {
			st := flagState(f)
			st.Rules = append([]flagmodel.Rule{{ID: "vip", Serve: flagmodel.Serve{Variant: "express"}}}, st.Rules...)
		}, ""},
		{"the experiment's rule removed", func(f *flagmodel.File) { flagState(f).Rules = flagState(f).Rules[:1] },
			`flag "checkout": environments.production.rules: rule "experiment:checkout-flow" serves running experiment "checkout-flow"; stop the experiment to remove it`},
		{"the experiment's split edited", func(f *flagmodel.File) {
			flagState(f).Rules[1].Serve.Split = flagmodel.Weights{{Variant: "classic", Weight: 90000}, {Variant: "one-page", Weight: 10000}}
		}, `flag "checkout": environments.production.rules: rule "experiment:checkout-flow" is managed by running experiment "checkout-flow": change the experiment's allocation or weights instead (a new phase), or stop it`},
		{"the flag deleted", func(f *flagmodel.File) {
			f.Flags = slices.DeleteFunc(f.Flags, func(fl flagmodel.Flag) bool { return fl.Key == "checkout" })
		},
			`flag "checkout": running experiment "checkout-flow" serves it in production; stop the experiment before deleting the flag`},
		{"a served variant removed", func(f *flagmodel.File) {
			for i := range f.Flags {
				if f.Flags[i].Key == "checkout" {
					f.Flags[i].Variants = f.Flags[i].Variants[:1]
				}
			}
		}, `flag "checkout": variants: running experiment "checkout-flow" serves variant "one-page"; stop the experiment before removing it`},
		{"a measured metric deleted", func(f *flagmodel.File) {
			f.Metrics = slices.DeleteFunc(f.Metrics, func(m flagmodel.Metric) bool { return m.Key == "purchase" })
		},
			`metric "purchase": running experiment "checkout-flow" measures it; archive the experiment before deleting the metric`},
		{"the flag of an archived experiment deleted", func(f *flagmodel.File) {
			f.Flags = slices.DeleteFunc(f.Flags, func(fl flagmodel.Flag) bool { return fl.Key == "banner" })
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := edit(tt.change)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Check:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCreateRefusesLifecycleFieldsAndDuplicates(t *testing.T) {
	w := in(t, flagmodel.StatusDraft)
	_, err := Create(w.cfg, checkoutFlow(t), at(t0, "again"))
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Current != 1 {
		t.Errorf("a second creation: %v, want a conflict at version 1", err)
	}
	e := checkoutFlow(t)
	e.Key, e.Status = "fresh", flagmodel.StatusRunning
	e.Phases = []flagmodel.Phase{{Number: 1}}
	_, err = Create(w.cfg, e, at(t0, "r"))
	var ve *flagmodel.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 || ve.Problems[0].Where != "status" || ve.Problems[1].Where != "phases" {
		t.Errorf("creating a running experiment: %v", err)
	}
	e = checkoutFlow(t)
	e.Key, e.Metrics.Primary = "other", "purchases"
	if _, err := Create(w.cfg, e, at(t0, "r")); !errors.As(err, &ve) || ve.Problems[0].String() != `metrics.primary: unknown metric "purchases" (did you mean "purchase"?)` {
		t.Errorf("an unknown metric: %v", err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
