package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// Action names recorded in versions and the audit log.
const (
	ActionCreate  = "experiment.create"
	ActionUpdate  = "experiment.update"
	ActionPhase   = "experiment.phase"
	ActionStart   = "experiment.start"
	ActionStop    = "experiment.stop"
	ActionDecide  = "experiment.decide"
	ActionArchive = "experiment.archive"
)

// RuleID returns the id of the rule a running experiment adds to its flag.
func RuleID(key string) string { return "experiment:" + key }

// Request says who asks for a step, why, and when.
type Request struct {
	Actor  string
	Reason string
	Now    time.Time
}

// Traffic is what the caller knows about the units that reach the
// experiment's flag in its environment.
type Traffic struct {
	// DailyUnits is the number of distinct units evaluating the flag per
	// day, before allocation and holdout; 0 when unknown, and the expected
	// duration is then left out.
	DailyUnits int64
}

// Step is a planned lifecycle step.
type Step struct {
	// Changeset is what to commit; nil when the step changes nothing.
	Changeset *store.Changeset
	// Experiment is the experiment as the step leaves it.
	Experiment flagmodel.Experiment
	// Compiled holds what validating a changed flag compiled, or nil when
	// no flag changes.
	Compiled *flagmodel.Compiled
}

// RefusedError is a step that the experiment's status, or the state of
// what it depends on, does not allow.
type RefusedError struct {
	// Action is the refused step: "start", "stop", "decide", "archive",
	// "edit".
	Action string
	// Why explains, e.g. "experiment is decided".
	Why string
}

func (e *RefusedError) Error() string { return "cannot " + e.Action + ": " + e.Why }

// refuse explains why action is not allowed in the experiment's status,
// with the step that would make it possible.
func refuse(action string, status flagmodel.ExperimentStatus) *RefusedError {
	why := "experiment is " + string(status)
	if status == flagmodel.StatusDraft {
		why = "experiment is a draft"
	}
	hint := map[string]map[flagmodel.ExperimentStatus]string{
		"start":   {flagmodel.StatusRunning: "it already runs"},
		"stop":    {flagmodel.StatusDraft: "it never ran", flagmodel.StatusStopped: "it already stopped"},
		"decide":  {flagmodel.StatusRunning: "stop it first", flagmodel.StatusDraft: "it never ran", flagmodel.StatusDecided: "it is decided already"},
		"archive": {flagmodel.StatusRunning: "stop and decide it first", flagmodel.StatusStopped: "decide it first"},
		"edit": {
			flagmodel.StatusStopped:  "start it again to run a new phase, or create a new experiment",
			flagmodel.StatusDecided:  "create a new experiment to iterate",
			flagmodel.StatusArchived: "create a new experiment to iterate",
		},
	}[action][status]
	if hint != "" {
		why += "; " + hint
	}
	return &RefusedError{Action: action, Why: why}
}

func find(cfg *store.Config, key string) (store.Versioned[flagmodel.Experiment], error) {
	for _, e := range cfg.Experiments {
		if e.Value.Key == key {
			return e, nil
		}
	}
	return store.Versioned[flagmodel.Experiment]{}, fmt.Errorf("experiment %q: %w", key, store.ErrNotFound)
}

// stamp is how the lifecycle records a time: UTC, at the store's precision.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Create plans a new draft experiment. Its lifecycle fields must be empty
// and it must be valid against cfg.
func Create(cfg *store.Config, e flagmodel.Experiment, r Request) (*Step, error) {
	if cur, err := find(cfg, e.Key); err == nil {
		return nil, &store.ConflictError{Target: fmt.Sprintf("experiment %q", e.Key), Expected: 0, Current: cur.Version}
	}
	var problems []flagmodel.Problem
	if e.State() != flagmodel.StatusDraft {
		problems = append(problems, flagmodel.Problem{Where: "status", Message: "a new experiment is a draft; start it to run it"})
	}
	problems = append(problems, managedFieldsSet(&e)...)
	if len(problems) > 0 {
		return nil, &flagmodel.ValidationError{Problems: problems}
	}
	e.Status = flagmodel.StatusDraft
	if err := e.Validate(plan.FileOf(cfg)); err != nil {
		return nil, err
	}
	return &Step{Experiment: e, Changeset: &store.Changeset{Actor: r.Actor, Reason: r.Reason, Action: ActionCreate,
		Changes: []store.Change{{Kind: store.KindExperiment, Key: e.Key, Experiment: &e}}}}, nil
}

// managedFieldsSet reports lifecycle fields a new experiment must not have.
func managedFieldsSet(e *flagmodel.Experiment) []flagmodel.Problem {
	var out []flagmodel.Problem
	add := func(field string, set bool) {
		if set {
			out = append(out, flagmodel.Problem{Where: field, Message: "set by the lifecycle (start, stop, decide), not written"})
		}
	}
	add("sampleSize", len(e.SampleSize) > 0)
	add("expectedDuration", e.ExpectedDuration != "")
	add("phases", len(e.Phases) > 0)
	add("decision", e.Decision != nil)
	return out
}

// Update plans an edit. A draft may change anything but its key and
// lifecycle fields. A running experiment may only change its allocation
// and weights, and doing so starts a new phase (with traffic's daily units
// for the new expected duration). Lifecycle fields in desired must be
// absent or equal to the current ones, so an experiment read from the API
// can be edited and sent back. Other statuses cannot be edited. An edit
// that changes nothing gives a Step with no changeset.
func Update(cfg *store.Config, desired flagmodel.Experiment, traffic Traffic, r Request) (*Step, error) {
	cur, err := find(cfg, desired.Key)
	if err != nil {
		return nil, err
	}
	e := cur.Value
	status := e.State()
	if status != flagmodel.StatusDraft && status != flagmodel.StatusRunning {
		return nil, refuse("edit", status)
	}
	if problems := keepManaged(&desired, &e); len(problems) > 0 {
		return nil, &flagmodel.ValidationError{Problems: problems}
	}
	if same(desired, e) {
		return &Step{Experiment: e}, nil
	}
	if status == flagmodel.StatusDraft {
		if err := desired.Validate(plan.FileOf(cfg)); err != nil {
			return nil, err
		}
		return &Step{Experiment: desired, Changeset: &store.Changeset{Actor: r.Actor, Reason: r.Reason, Action: ActionUpdate,
			Changes: []store.Change{{Kind: store.KindExperiment, Key: e.Key, ExpectedVersion: cur.Version, Experiment: &desired}}}}, nil
	}

	// Running: only the split may change, as a new phase.
	if fields := definitionChanges(desired, e); len(fields) > 0 {
		problems := make([]flagmodel.Problem, len(fields))
		for i, f := range fields {
			problems[i] = flagmodel.Problem{Where: f, Message: "cannot change while the experiment runs (only allocation and weights can, as a new phase); stop it, or create a new experiment"}
		}
		return nil, &flagmodel.ValidationError{Problems: problems}
	}
	if err := desired.Validate(plan.FileOf(cfg)); err != nil {
		return nil, err
	}
	next := desired
	if desired.Share() == e.Share() && slices.Equal(desired.SplitWeights(), e.SplitWeights()) {
		// Written differently (say, equal weights spelt out), same split.
		return &Step{Experiment: next, Changeset: &store.Changeset{Actor: r.Actor, Reason: r.Reason, Action: ActionUpdate,
			Changes: []store.Change{{Kind: store.KindExperiment, Key: e.Key, ExpectedVersion: cur.Version, Experiment: &next}}}}, nil
	}
	next.Phases = slices.Clone(e.Phases)
	next.Phases[len(next.Phases)-1].StoppedAt = stamp(r.Now)
	if err := size(cfg, &next, traffic); err != nil {
		return nil, err
	}
	return run(cfg, cur, next, "edit", ActionPhase, r)
}

// keepManaged fills desired's absent lifecycle fields from cur and reports
// those that differ.
func keepManaged(desired, cur *flagmodel.Experiment) []flagmodel.Problem {
	var out []flagmodel.Problem
	check := func(field string, absent bool, fill func(), a, b any) {
		if absent {
			fill()
			return
		}
		if !equalJSON(a, b) {
			out = append(out, flagmodel.Problem{Where: field, Message: "set by the lifecycle (start, stop, decide); leave it out or unchanged"})
		}
	}
	check("status", desired.Status == "", func() { desired.Status = cur.Status }, desired.State(), cur.State())
	check("sampleSize", len(desired.SampleSize) == 0, func() { desired.SampleSize = cur.SampleSize }, desired.SampleSize, cur.SampleSize)
	check("expectedDuration", desired.ExpectedDuration == "", func() { desired.ExpectedDuration = cur.ExpectedDuration }, desired.ExpectedDuration, cur.ExpectedDuration)
	check("phases", len(desired.Phases) == 0, func() { desired.Phases = cur.Phases }, desired.Phases, cur.Phases)
	check("decision", desired.Decision == nil, func() { desired.Decision = cur.Decision }, desired.Decision, cur.Decision)
	return out
}

// definitionChanges lists the fields besides allocation and weights in
// which a and b differ.
func definitionChanges(a, b flagmodel.Experiment) []string {
	fields := func(e flagmodel.Experiment) map[string]json.RawMessage {
		e.Allocation, e.Weights = 0, nil
		data, _ := json.Marshal(e)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(data, &m)
		return m
	}
	fa, fb := fields(a), fields(b)
	var out []string
	for k := range fa {
		if !bytes.Equal(fa[k], fb[k]) {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func same(a, b flagmodel.Experiment) bool { return equalJSON(a, b) }

func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Start plans starting a draft, or restarting a stopped experiment in a new
// phase. The experiment must be valid and complete (a primary metric, a
// baseline and an MDE, for its sample size), its flag enabled in its
// environment, and its traffic available: no other running experiment on
// the same flag outside its layer, and room in its layer.
func Start(cfg *store.Config, key string, traffic Traffic, r Request) (*Step, error) {
	cur, err := find(cfg, key)
	if err != nil {
		return nil, err
	}
	e := cur.Value
	if s := e.State(); s != flagmodel.StatusDraft && s != flagmodel.StatusStopped {
		return nil, refuse("start", s)
	}
	known := plan.FileOf(cfg)
	var problems []flagmodel.Problem
	var ve *flagmodel.ValidationError
	if err := e.Validate(known); err != nil {
		if !asValidation(err, &ve) {
			return nil, err
		}
		problems = ve.Problems
	}
	problems = append(problems, readiness(&e)...)
	if len(problems) > 0 {
		return nil, &flagmodel.ValidationError{Problems: problems}
	}
	fl := flagOf(cfg, e.Flag)
	st := fl.Environments[e.Environment]
	if !st.Enabled {
		return nil, &RefusedError{Action: "start", Why: fmt.Sprintf("flag %q is disabled in %s; enable it first, or its rules serve nobody", e.Flag, e.Environment)}
	}
	// The experiment's rule goes after the flag's own: one that matches
	// every unit would leave it none.
	for i, rule := range st.Rules {
		if rule.ID != RuleID(key) && len(rule.When) == 0 && rule.Traffic == nil {
			id := rule.ID
			if id == "" {
				id = fmt.Sprintf("rules[%d]", i)
			}
			return nil, &RefusedError{Action: "start", Why: fmt.Sprintf(
				"rule %q of flag %q in %s matches every unit, so the experiment's rule after it would get none; give it clauses or make it the default", id, e.Flag, e.Environment)}
		}
	}
	next := e
	next.Status = flagmodel.StatusRunning
	next.Phases = slices.Clone(e.Phases)
	if err := size(cfg, &next, traffic); err != nil {
		return nil, err
	}
	return run(cfg, cur, next, "start", ActionStart, r)
}

func asValidation(err error, ve **flagmodel.ValidationError) bool {
	v, ok := err.(*flagmodel.ValidationError)
	*ve = v
	return ok
}

// readiness lists what a valid experiment still lacks to start.
func readiness(e *flagmodel.Experiment) []flagmodel.Problem {
	var out []flagmodel.Problem
	if e.Metrics.Primary == "" {
		out = append(out, flagmodel.Problem{Where: "metrics.primary", Message: "a running experiment needs a primary metric"})
	}
	if e.Baseline == nil {
		out = append(out, flagmodel.Problem{Where: "baseline", Message: "give the primary metric's baseline ({rate} for a conversion, {mean, stdDev} otherwise) for the sample size"})
	}
	if e.MDE == 0 {
		out = append(out, flagmodel.Problem{Where: "mde", Message: "give the minimum detectable effect, relative to the baseline (0.05 for 5%), for the sample size"})
	}
	return out
}

// run opens a new phase of next (whose earlier phases are already closed)
// at r.Now, takes its traffic, writes its rule into the flag and plans the
// commit of both.
func run(cfg *store.Config, cur store.Versioned[flagmodel.Experiment], next flagmodel.Experiment, action, auditAction string, r Request) (*Step, error) {
	rng, err := allocate(cfg, &next, action)
	if err != nil {
		return nil, err
	}
	n := len(next.Phases) + 1
	next.Phases = append(next.Phases, flagmodel.Phase{
		Number:     n,
		Seed:       fmt.Sprintf("%s.%d", next.Key, n),
		Allocation: next.Share(),
		Weights:    next.SplitWeights(),
		Traffic:    rng,
		StartedAt:  stamp(r.Now),
	})
	if prev := len(next.Phases) - 2; prev >= 0 && next.Phases[n-1].StartedAt.Before(next.Phases[prev].StoppedAt) {
		next.Phases[n-1].StartedAt = next.Phases[prev].StoppedAt
	}
	fl := flagOf(cfg, next.Flag)
	st := fl.Environments[next.Environment]
	state := withRule(st, Rule(&next))
	return commitStep(cfg, cur, next, fl, st, &state, auditAction, r)
}

// commitStep validates next on its own (its references were checked before
// the step, where they matter) and, when state is not nil, the whole
// configuration with the flag's new state, and plans their commit.
func commitStep(cfg *store.Config, cur store.Versioned[flagmodel.Experiment], next flagmodel.Experiment,
	fl *flagmodel.Flag, st, state *flagmodel.FlagState, action string, r Request) (*Step, error) {
	step := &Step{Experiment: next}
	cs := &store.Changeset{Actor: r.Actor, Reason: r.Reason, Action: action,
		Changes: []store.Change{{Kind: store.KindExperiment, Key: next.Key, ExpectedVersion: cur.Version, Experiment: &next}}}
	if state != nil {
		def := plan.Definition(*fl)
		def.Environments = map[string]*flagmodel.FlagState{next.Environment: state}
		merged := plan.Merge(cfg, &flagmodel.File{Flags: []flagmodel.Flag{def}}, plan.Options{})
		compiled, err := merged.ValidateCompiled()
		if err != nil {
			return nil, fmt.Errorf("the flag's new state is not valid: %w", err)
		}
		step.Compiled = compiled
		cs.Changes = append(cs.Changes, store.Change{Kind: store.KindFlagState, Key: fl.Key, Env: next.Environment,
			ExpectedVersion: st.Version, State: state})
	}
	if err := next.Validate(nil); err != nil {
		return nil, fmt.Errorf("the planned experiment is not valid: %w", err)
	}
	step.Changeset = cs
	return step, nil
}

func flagOf(cfg *store.Config, key string) *flagmodel.Flag {
	for i := range cfg.Flags {
		if cfg.Flags[i].Value.Key == key {
			return &cfg.Flags[i].Value
		}
	}
	return nil
}

// Rule returns the rule a running experiment's current phase adds to its
// flag.
func Rule(e *flagmodel.Experiment) flagmodel.Rule {
	p := e.CurrentPhase()
	serve := flagmodel.Serve{Split: slices.Clone(p.Weights), Seed: p.Seed, Experiment: e.Key}
	if e.Unit() != flagmodel.TargetingKey {
		serve.BucketBy = e.BucketBy
	}
	rule := flagmodel.Rule{ID: RuleID(e.Key), Description: fmt.Sprintf("experiment %s, phase %d", e.Key, p.Number), Serve: serve}
	if p.Traffic != nil {
		t := *p.Traffic
		rule.Traffic = &t
	}
	return rule
}

// withRule returns a copy of st with rule replacing the rule of the same id
// where it is, or added after the other rules.
func withRule(st *flagmodel.FlagState, rule flagmodel.Rule) flagmodel.FlagState {
	out := *st
	out.Rules = slices.Clone(st.Rules)
	for i := range out.Rules {
		if out.Rules[i].ID == rule.ID {
			out.Rules[i] = rule
			return out
		}
	}
	out.Rules = append(out.Rules, rule)
	return out
}

// withoutRule returns a copy of st without the rule of the given id, and
// whether it had one.
func withoutRule(st *flagmodel.FlagState, id string) (flagmodel.FlagState, bool) {
	out := *st
	i := slices.IndexFunc(st.Rules, func(r flagmodel.Rule) bool { return r.ID == id })
	if i < 0 {
		return out, false
	}
	out.Rules = slices.Delete(slices.Clone(st.Rules), i, i+1)
	if len(out.Rules) == 0 {
		out.Rules = nil
	}
	return out, true
}

// Stop plans stopping a running experiment: its current phase ends and its
// rule leaves the flag, so units get what they got before it started.
func Stop(cfg *store.Config, key string, r Request) (*Step, error) {
	cur, err := find(cfg, key)
	if err != nil {
		return nil, err
	}
	e := cur.Value
	if s := e.State(); s != flagmodel.StatusRunning {
		return nil, refuse("stop", s)
	}
	next := e
	next.Status = flagmodel.StatusStopped
	next.Phases = slices.Clone(e.Phases)
	p := &next.Phases[len(next.Phases)-1]
	p.StoppedAt = stamp(r.Now)
	if p.StoppedAt.Before(p.StartedAt) {
		p.StoppedAt = p.StartedAt // a clock behind the start
	}
	fl := flagOf(cfg, e.Flag)
	if fl == nil || fl.Environments[e.Environment] == nil {
		// The flag went (which a running experiment should prevent): there
		// is no rule left to remove.
		return commitStep(cfg, cur, next, nil, nil, nil, ActionStop, r)
	}
	st := fl.Environments[e.Environment]
	state, had := withoutRule(st, RuleID(key))
	if !had {
		return commitStep(cfg, cur, next, nil, nil, nil, ActionStop, r)
	}
	return commitStep(cfg, cur, next, fl, st, &state, ActionStop, r)
}

// Decision is what Decide records.
type Decision struct {
	Outcome flagmodel.Outcome
	// Variant is the shipped variant (ship only).
	Variant string
	// SetDefault makes Variant the flag's default serve in the
	// experiment's environment (ship only).
	SetDefault bool
}

// Decide plans recording the decision about a stopped experiment; the
// request's reason is the decision's reason and is required.
func Decide(cfg *store.Config, key string, d Decision, r Request) (*Step, error) {
	cur, err := find(cfg, key)
	if err != nil {
		return nil, err
	}
	e := cur.Value
	if s := e.State(); s != flagmodel.StatusStopped {
		return nil, refuse("decide", s)
	}
	next := e
	next.Status = flagmodel.StatusDecided
	next.Decision = &flagmodel.Decision{Outcome: d.Outcome, Variant: d.Variant, Reason: strings.TrimSpace(r.Reason),
		DefaultSet: d.SetDefault, DecidedBy: r.Actor, DecidedAt: stamp(r.Now)}
	if err := next.Validate(nil); err != nil {
		return nil, err
	}
	if !d.SetDefault {
		return commitStep(cfg, cur, next, nil, nil, nil, ActionDecide, r)
	}
	fl := flagOf(cfg, e.Flag)
	if fl == nil || fl.Environments[e.Environment] == nil {
		return nil, &RefusedError{Action: "decide", Why: fmt.Sprintf("flag %q has no state in %s any more, so its default cannot be set", e.Flag, e.Environment)}
	}
	st := fl.Environments[e.Environment]
	state := *st
	state.Default = &flagmodel.Serve{Variant: d.Variant}
	return commitStep(cfg, cur, next, fl, st, &state, ActionDecide, r)
}

// Archive plans archiving a decided experiment, or a draft that will never
// run.
func Archive(cfg *store.Config, key string, r Request) (*Step, error) {
	cur, err := find(cfg, key)
	if err != nil {
		return nil, err
	}
	e := cur.Value
	if s := e.State(); s != flagmodel.StatusDecided && s != flagmodel.StatusDraft {
		return nil, refuse("archive", s)
	}
	next := e
	next.Status = flagmodel.StatusArchived
	return commitStep(cfg, cur, next, nil, nil, nil, ActionArchive, r)
}
