package flagmodel

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// ExperimentStatus is where an experiment is in its lifecycle:
// draft → running → stopped → decided → archived.
type ExperimentStatus string

// Experiment statuses.
const (
	// StatusDraft: defined, editable, not serving.
	StatusDraft ExperimentStatus = "draft"
	// StatusRunning: its rule serves the flag's split to its units.
	StatusRunning ExperimentStatus = "running"
	// StatusStopped: no longer serving, awaiting a decision.
	StatusStopped ExperimentStatus = "stopped"
	// StatusDecided: the outcome is recorded.
	StatusDecided ExperimentStatus = "decided"
	// StatusArchived: kept for the record only.
	StatusArchived ExperimentStatus = "archived"
)

// ExperimentStatuses lists every valid ExperimentStatus in lifecycle order.
var ExperimentStatuses = []ExperimentStatus{StatusDraft, StatusRunning, StatusStopped, StatusDecided, StatusArchived}

// StoppingRule says how an experiment's results may be read.
type StoppingRule string

// Stopping rules.
const (
	// StoppingFixed: read the results once, at the planned sample size
	// (fixed-horizon test).
	StoppingFixed StoppingRule = "fixed"
	// StoppingSequential: results may be read at any time (always-valid
	// sequential test), at the price of wider intervals.
	StoppingSequential StoppingRule = "sequential"
)

// StoppingRules lists every valid StoppingRule.
var StoppingRules = []StoppingRule{StoppingFixed, StoppingSequential}

// Outcome is what was decided about an experiment.
type Outcome string

// Outcomes.
const (
	// OutcomeShip: a variant won and is shipped.
	OutcomeShip Outcome = "ship"
	// OutcomeRollback: no variant is shipped; the flag stays as it was.
	OutcomeRollback Outcome = "rollback"
	// OutcomeIterate: inconclusive or promising; a new experiment follows.
	OutcomeIterate Outcome = "iterate"
)

// Outcomes lists every valid Outcome.
var Outcomes = []Outcome{OutcomeShip, OutcomeRollback, OutcomeIterate}

// Experiment is an A/B(/n) test of a flag's variants in one environment: what
// it tests and why, how traffic is split, what it measures, how many units
// it needs and where it is in its lifecycle.
//
// Users write the definition (key to stoppingRule); the lifecycle writes the
// rest (sampleSize to decision), which an edit may repeat but not change.
// Zero values of allocation, weights, bucketBy, alpha, power and
// stoppingRule mean their defaults, which the methods below apply.
type Experiment struct {
	Key         string `json:"key" yaml:"key"`
	Environment string `json:"environment" yaml:"environment"`
	Flag        string `json:"flag" yaml:"flag"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Hypothesis  string `json:"hypothesis,omitempty" yaml:"hypothesis,omitempty"`
	Owner       string `json:"owner,omitempty" yaml:"owner,omitempty"`
	// Control is the flag variant the treatments are compared with.
	Control    string   `json:"control" yaml:"control"`
	Treatments []string `json:"treatments" yaml:"treatments"`
	// Allocation is the share of units in the experiment, in thousandths
	// of a percent (default 100000, every unit).
	Allocation int `json:"allocation,omitempty" yaml:"allocation,omitempty"`
	// Weights split the experiment's units between its variants, in
	// percent like a split (default: equal shares).
	Weights Weights `json:"weights,omitempty" yaml:"weights,omitempty"`
	// Layer, when set, makes the experiment mutually exclusive with the
	// other running experiments of the same layer and environment: each
	// takes its own range of the layer's buckets.
	Layer string `json:"layer,omitempty" yaml:"layer,omitempty"`
	// BucketBy names the unit attribute (default "targetingKey").
	BucketBy string            `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
	Metrics  ExperimentMetrics `json:"metrics,omitzero" yaml:"metrics,omitempty"`
	// Baseline is the primary metric's current value, for the sample size.
	Baseline *Baseline `json:"baseline,omitempty" yaml:"baseline,omitempty"`
	// MDE is the minimum detectable effect, relative to the baseline (0.05
	// for a 5% lift).
	MDE float64 `json:"mde,omitempty" yaml:"mde,omitempty"`
	// Alpha is the significance level (default 0.05).
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// Power is the probability of detecting an effect of MDE (default
	// 0.8).
	Power        float64      `json:"power,omitempty" yaml:"power,omitempty"`
	StoppingRule StoppingRule `json:"stoppingRule,omitempty" yaml:"stoppingRule,omitempty"`

	// SampleSize is the number of units each variant needs, computed when
	// the experiment starts.
	SampleSize SampleSizes `json:"sampleSize,omitempty" yaml:"sampleSize,omitempty"`
	// ExpectedDuration is how long collecting SampleSize takes at the
	// traffic known when the experiment started (empty when unknown).
	ExpectedDuration Duration         `json:"expectedDuration,omitempty" yaml:"expectedDuration,omitempty"`
	Status           ExperimentStatus `json:"status,omitempty" yaml:"status,omitempty"`
	// Phases are the periods the experiment ran with one configuration;
	// a new allocation or new weights start a new phase.
	Phases   []Phase   `json:"phases,omitempty" yaml:"phases,omitempty"`
	Decision *Decision `json:"decision,omitempty" yaml:"decision,omitempty"`
}

// ExperimentMetrics names the metrics an experiment measures, by key.
type ExperimentMetrics struct {
	// Primary decides the experiment and sizes it.
	Primary   string   `json:"primary,omitempty" yaml:"primary,omitempty"`
	Secondary []string `json:"secondary,omitempty" yaml:"secondary,omitempty"`
	// Guardrails must not get worse.
	Guardrails []string `json:"guardrails,omitempty" yaml:"guardrails,omitempty"`
}

// All returns every metric key the experiment names, primary first.
func (m ExperimentMetrics) All() []string {
	var out []string
	if m.Primary != "" {
		out = append(out, m.Primary)
	}
	out = append(out, m.Secondary...)
	return append(out, m.Guardrails...)
}

// Baseline is the primary metric's value without the change: a conversion
// rate for conversion metrics, a mean and a standard deviation per unit for
// the others.
type Baseline struct {
	Rate   float64 `json:"rate,omitempty" yaml:"rate,omitempty"`
	Mean   float64 `json:"mean,omitempty" yaml:"mean,omitempty"`
	StdDev float64 `json:"stdDev,omitempty" yaml:"stdDev,omitempty"`
}

// Phase is a period during which an experiment ran with one configuration.
type Phase struct {
	Number int `json:"number" yaml:"number"`
	// Seed is the seed of the split that assigned variants in this phase.
	Seed       string  `json:"seed" yaml:"seed"`
	Allocation int     `json:"allocation" yaml:"allocation"`
	Weights    Weights `json:"weights" yaml:"weights"`
	// Traffic is the range of buckets the experiment took, or nil when it
	// took every unit.
	Traffic   *Traffic  `json:"traffic,omitempty" yaml:"traffic,omitempty"`
	StartedAt time.Time `json:"startedAt" yaml:"startedAt"`
	StoppedAt time.Time `json:"stoppedAt,omitzero" yaml:"stoppedAt,omitempty"`
}

// Decision records what was decided about an experiment, by whom and why.
type Decision struct {
	Outcome Outcome `json:"outcome" yaml:"outcome"`
	// Variant is the shipped variant (ship only).
	Variant string `json:"variant,omitempty" yaml:"variant,omitempty"`
	Reason  string `json:"reason" yaml:"reason"`
	// DefaultSet records that the decision made Variant the flag's default
	// serve in the experiment's environment.
	DefaultSet bool      `json:"defaultSet,omitempty" yaml:"defaultSet,omitempty"`
	DecidedBy  string    `json:"decidedBy" yaml:"decidedBy"`
	DecidedAt  time.Time `json:"decidedAt" yaml:"decidedAt"`
}

// VariantUnits is one variant's sample size.
type VariantUnits struct {
	Variant string
	Units   int64
}

// SampleSizes is an ordered mapping from variant to units, written in
// files as {control: 3843, treatment: 3843}.
type SampleSizes []VariantUnits

// Total returns the units of all variants.
func (s SampleSizes) Total() int64 {
	var n int64
	for _, v := range s {
		n += v.Units
	}
	return n
}

// State returns the experiment's status, draft when it has none yet.
func (e *Experiment) State() ExperimentStatus {
	if e.Status == "" {
		return StatusDraft
	}
	return e.Status
}

// Variants returns the experiment's variants, control first: the order of
// its split.
func (e *Experiment) Variants() []string {
	return append([]string{e.Control}, e.Treatments...)
}

// Share returns the allocation with its default applied.
func (e *Experiment) Share() int {
	if e.Allocation == 0 {
		return WeightScale
	}
	return e.Allocation
}

// Unit returns the bucketing attribute with its default applied.
func (e *Experiment) Unit() string {
	if e.BucketBy == "" {
		return TargetingKey
	}
	return e.BucketBy
}

// Level returns alpha and power with their defaults applied.
func (e *Experiment) Level() (alpha, power float64) {
	alpha, power = e.Alpha, e.Power
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if power == 0 {
		power = DefaultPower
	}
	return alpha, power
}

// Rule returns the stopping rule with its default applied.
func (e *Experiment) Rule() StoppingRule {
	if e.StoppingRule == "" {
		return StoppingFixed
	}
	return e.StoppingRule
}

// SplitWeights returns the weights of the experiment's split in variant
// order, control first: the written weights, or equal shares (the
// remainder of an uneven division goes to the first variants).
func (e *Experiment) SplitWeights() Weights {
	vs := e.Variants()
	out := make(Weights, len(vs))
	if len(e.Weights) == 0 {
		each, rest := WeightScale/len(vs), WeightScale%len(vs)
		for i, name := range vs {
			out[i] = Weight{Variant: name, Weight: each}
			if i < rest {
				out[i].Weight++
			}
		}
		return out
	}
	byName := map[string]int{}
	for _, w := range e.Weights {
		byName[w.Variant] = w.Weight
	}
	for i, name := range vs {
		out[i] = Weight{Variant: name, Weight: byName[name]}
	}
	return out
}

// CurrentPhase returns the last phase, or nil before the first start.
func (e *Experiment) CurrentPhase() *Phase {
	if len(e.Phases) == 0 {
		return nil
	}
	return &e.Phases[len(e.Phases)-1]
}

// Defaults of an experiment's design, the conventional ones.
const (
	DefaultAlpha = 0.05
	DefaultPower = 0.8
)

// Limits of experiments.
const (
	MaxExperiments       = 10000
	MaxExperimentMetrics = 50
	MaxExperimentPhases  = 1000
	MaxTreatments        = MaxVariants - 1
	// MaxMDE bounds the relative minimum detectable effect (a 10-fold
	// change is no longer an experiment's question).
	MaxMDE = 10
)

// Validate checks an experiment and returns nil or a *ValidationError
// listing every problem with its field (`treatments[1]`, `weights.blue`,
// `metrics.primary`). When known is not nil, references are checked against
// it too: the environment exists, the flag exists and has a state in that
// environment, the variants are the flag's, the metrics exist and the
// baseline suits the primary metric's type.
func (e *Experiment) Validate(known *File) error {
	v := &validator{f: &File{}}
	v.experiment(e, known)
	return v.err()
}

func (v *validator) experiment(e *Experiment, known *File) {
	v.checkKey("key", "experiment", e.Key)
	for _, t := range []struct{ field, text string }{{"description", e.Description}, {"hypothesis", e.Hypothesis}} {
		if len(t.text) > MaxDescriptionLen {
			v.add(t.field, "%d characters, above the limit of %d", len(t.text), MaxDescriptionLen)
		}
	}
	if len(e.Owner) > MaxStringLength {
		v.add("owner", "%d characters, above the limit of %d", len(e.Owner), MaxStringLength)
	}

	var fl *Flag
	envOK := v.checkKey("environment", "environment", e.Environment)
	flagOK := v.checkKey("flag", "flag", e.Flag)
	if known != nil {
		if envOK && !hasEnvironment(known, e.Environment) {
			v.add("environment", "unknown environment %q%s", e.Environment, suggest(e.Environment, envKeys(known)))
			envOK = false
		}
		if flagOK {
			fl = findFlag(known, e.Flag)
			switch {
			case fl == nil:
				v.add("flag", "unknown flag %q%s", e.Flag, suggest(e.Flag, flagKeys(known)))
			case envOK && fl.Environments[e.Environment] == nil:
				v.add("flag", "flag %q has no state in environment %q; configure it there first", e.Flag, e.Environment)
			}
		}
	}

	// variants holds the well-formed, distinct variants; ordered lists
	// them control first, for messages.
	variants := map[string]bool{}
	var ordered []string
	if v.checkKey("control", "variant", e.Control) {
		variants[e.Control] = true
		ordered = append(ordered, e.Control)
		v.flagVariant("control", fl, e.Control)
	}
	switch {
	case len(e.Treatments) == 0:
		v.add("treatments", "an experiment needs at least one treatment")
	case len(e.Treatments) > MaxTreatments:
		v.add("treatments", "%d treatments, above the limit of %d", len(e.Treatments), MaxTreatments)
	}
	for i, t := range e.Treatments {
		where := fmt.Sprintf("treatments[%d]", i)
		if !v.checkKey(where, "variant", t) {
			continue
		}
		if variants[t] {
			if t == e.Control {
				v.add(where, "%q is the control; a treatment must differ from it", t)
			} else {
				v.add(where, "duplicate treatment %q", t)
			}
			continue
		}
		variants[t] = true
		ordered = append(ordered, t)
		v.flagVariant(where, fl, t)
	}

	if e.Allocation < 0 || e.Allocation > WeightScale {
		v.add("allocation", "%d is not a share of units: write thousandths of a percent from 1 to %d (0 or absent means all units)", e.Allocation, WeightScale)
	}
	if len(e.Weights) > 0 {
		v.variantWeights("weights", e.Weights, ordered)
	}
	if e.Layer != "" {
		v.checkKey("layer", "layer", e.Layer)
	}
	if len(e.BucketBy) > MaxKeyLength {
		v.add("bucketBy", "attribute name is %d characters long, above the limit of %d", len(e.BucketBy), MaxKeyLength)
	}

	v.experimentMetrics(e, known)
	v.baseline(e, known)
	if math.IsNaN(e.MDE) || math.IsInf(e.MDE, 0) || math.Abs(e.MDE) > MaxMDE {
		v.add("mde", "the minimum detectable effect is relative (0.05 for 5%%): a finite number within ±%d", MaxMDE)
	}
	alpha, _ := e.Level()
	if e.Alpha != 0 && !(e.Alpha > 0 && e.Alpha <= 0.5) {
		v.add("alpha", "the significance level must be above 0 and at most 0.5, not %g", e.Alpha)
	}
	if e.Power != 0 && !(e.Power > alpha && e.Power < 1) {
		v.add("power", "power must be above alpha (%g) and below 1, not %g", alpha, e.Power)
	}
	if e.StoppingRule != "" && !contains(StoppingRules, e.StoppingRule) {
		v.add("stoppingRule", "unknown stopping rule %q%s (one of %s)", e.StoppingRule, suggest(string(e.StoppingRule), names(StoppingRules)), joinNames(StoppingRules))
	}
	v.lifecycle(e, ordered)
}

// flagVariant checks that the flag (when known) has the variant.
func (v *validator) flagVariant(where string, fl *Flag, name string) {
	if fl == nil {
		return
	}
	if _, ok := fl.Variant(name); !ok {
		v.add(where, "flag %q has no variant %q%s", fl.Key, name, suggest(name, variantNames(fl)))
	}
}

// variantWeights checks weights that must split 100% between exactly the
// given variants.
func (v *validator) variantWeights(where string, ws Weights, variants []string) {
	want := map[string]bool{}
	for _, name := range variants {
		want[name] = true
	}
	seen := map[string]bool{}
	sum, valid := 0, true
	for _, w := range ws {
		ww := where + "." + w.Variant
		seen[w.Variant] = true
		if !want[w.Variant] {
			v.add(ww, "%q is not one of the experiment's variants (%s)", w.Variant, joinNames(variants))
			valid = false
			continue
		}
		switch {
		case w.Weight < 0:
			v.add(ww, "%s", weightProblem(w))
			valid = false
		case w.Weight == 0:
			v.add(ww, "weight must be above 0%% (take the variant out of the treatments instead)")
			valid = false
		case w.Weight > WeightScale:
			v.add(ww, "weight %s%% is above 100%%", FormatPercent(w.Weight))
			valid = false
		default:
			sum += w.Weight
		}
	}
	for _, name := range variants {
		if !seen[name] {
			v.add(where, "no weight for variant %q: give every variant a weight, or none for equal shares", name)
			valid = false
		}
	}
	if valid && sum != WeightScale {
		v.add(where, "weights sum to %s%%, not 100%%", FormatPercent(sum))
	}
}

// weightProblem describes a weight that could not be read as a percentage.
func weightProblem(w Weight) string {
	if w.nonScalar {
		return "weight must be a percentage such as 12.5, not a list or mapping"
	}
	if _, err := ParsePercent(w.raw); err != nil {
		return fmt.Sprintf("weight %q: %v; write a percentage with at most 3 decimals, such as 12.5", w.raw, err)
	}
	return fmt.Sprintf("weight %q is not a number", w.raw)
}

func (v *validator) experimentMetrics(e *Experiment, known *File) {
	m := e.Metrics
	if n := len(m.All()); n > MaxExperimentMetrics {
		v.add("metrics", "%d metrics, above the limit of %d", n, MaxExperimentMetrics)
	}
	var metrics map[string]*Metric
	if known != nil {
		metrics = map[string]*Metric{}
		for i := range known.Metrics {
			metrics[known.Metrics[i].Key] = &known.Metrics[i]
		}
	}
	role := map[string]string{}
	check := func(where, what, key string) {
		if !v.checkKey(where, "metric", key) {
			return
		}
		if first, dup := role[key]; dup {
			v.add(where, "metric %q is already %s", key, first)
			return
		}
		role[key] = what
		if metrics != nil && metrics[key] == nil {
			v.add(where, "unknown metric %q%s", key, suggest(key, mapKeys(metrics)))
		}
	}
	if m.Primary != "" {
		check("metrics.primary", "the primary metric", m.Primary)
	}
	for i, k := range m.Secondary {
		check(fmt.Sprintf("metrics.secondary[%d]", i), "a secondary metric", k)
	}
	for i, k := range m.Guardrails {
		check(fmt.Sprintf("metrics.guardrails[%d]", i), "a guardrail", k)
	}
}

func (v *validator) baseline(e *Experiment, known *File) {
	b := e.Baseline
	if b == nil {
		return
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case b.Rate != 0 && (b.Mean != 0 || b.StdDev != 0):
		v.add("baseline", "a baseline is a conversion rate, or a mean with its standard deviation, not both")
		return
	case b.Rate != 0:
		if !(b.Rate > 0 && b.Rate < 1) {
			v.add("baseline.rate", "a conversion rate is between 0 and 1 (exclusive), not %g", b.Rate)
		}
	default:
		if !finite(b.Mean) || b.Mean == 0 {
			v.add("baseline.mean", "a mean baseline needs a finite, non-zero mean: the mde is relative to it")
		}
		if !(b.StdDev > 0) || !finite(b.StdDev) {
			v.add("baseline.stdDev", "a mean baseline needs the per-unit standard deviation, above 0")
		}
	}
	if known == nil || e.Metrics.Primary == "" {
		return
	}
	for i := range known.Metrics {
		m := &known.Metrics[i]
		if m.Key != e.Metrics.Primary {
			continue
		}
		switch {
		case m.Type == MetricConversion && b.Rate == 0:
			v.add("baseline", "the primary metric %q is a conversion: give its baseline rate", m.Key)
		case m.Type != MetricConversion && b.Rate != 0:
			v.add("baseline", "the primary metric %q is a %s metric: give its baseline mean and stdDev, not a rate", m.Key, m.Type)
		}
	}
}

// lifecycle checks that the lifecycle fields agree with the status.
func (v *validator) lifecycle(e *Experiment, vs []string) {
	variants := map[string]bool{}
	for _, name := range vs {
		variants[name] = true
	}
	status := e.State()
	if !contains(ExperimentStatuses, status) {
		v.add("status", "unknown status %q%s (one of %s)", e.Status, suggest(string(e.Status), names(ExperimentStatuses)), joinNames(ExperimentStatuses))
		return
	}
	for _, su := range e.SampleSize {
		w := "sampleSize." + su.Variant
		if !variants[su.Variant] {
			v.add(w, "%q is not one of the experiment's variants", su.Variant)
		}
		if su.Units <= 0 {
			v.add(w, "a sample size is a positive number of units")
		}
	}
	if e.ExpectedDuration != "" {
		if d, err := e.ExpectedDuration.Parse(); err != nil {
			v.add("expectedDuration", "%v", err)
		} else if d <= 0 {
			v.add("expectedDuration", "must be longer than zero")
		}
	}
	if len(e.Phases) > MaxExperimentPhases {
		v.add("phases", "%d phases, above the limit of %d", len(e.Phases), MaxExperimentPhases)
	}
	switch {
	case status == StatusDraft && len(e.Phases) > 0:
		v.add("phases", "a draft has not run, so it has no phases")
	case (status == StatusRunning || status == StatusStopped || status == StatusDecided) && len(e.Phases) == 0:
		v.add("phases", "a %s experiment has run: it needs its phases", status)
	}
	var prevStop time.Time
	for i := range e.Phases {
		p := &e.Phases[i]
		where := fmt.Sprintf("phases[%d]", i)
		if p.Number != i+1 {
			v.add(where+".number", "phase %d is number %d: phases are numbered 1, 2, … in order", i+1, p.Number)
		}
		switch {
		case p.Seed == "":
			v.add(where+".seed", "a phase records its split's seed")
		case len(p.Seed) > MaxStringLength:
			v.add(where+".seed", "seed is %d characters long, above the limit of %d", len(p.Seed), MaxStringLength)
		}
		if p.Allocation <= 0 || p.Allocation > WeightScale {
			v.add(where+".allocation", "%d is not a share of units from 1 to %d", p.Allocation, WeightScale)
		}
		v.variantWeights(where+".weights", p.Weights, vs)
		if p.Traffic != nil {
			v.traffic(where+".traffic", p.Traffic)
		}
		last := i == len(e.Phases)-1
		switch {
		case p.StartedAt.IsZero():
			v.add(where+".startedAt", "a phase records when it started")
		case p.StartedAt.Before(prevStop):
			v.add(where+".startedAt", "phase %d started before phase %d stopped", i+1, i)
		}
		switch {
		case p.StoppedAt.IsZero() && (!last || status != StatusRunning):
			v.add(where+".stoppedAt", "only the current phase of a running experiment has not stopped")
		case !p.StoppedAt.IsZero() && last && status == StatusRunning:
			v.add(where+".stoppedAt", "the current phase of a running experiment has not stopped")
		case !p.StoppedAt.IsZero() && p.StoppedAt.Before(p.StartedAt):
			v.add(where+".stoppedAt", "a phase stops after it starts")
		}
		prevStop = p.StoppedAt
	}
	d := e.Decision
	switch {
	case status == StatusDecided && d == nil:
		v.add("decision", "a decided experiment records its decision")
	case d != nil && status != StatusDecided && status != StatusArchived:
		v.add("decision", "only a decided (or archived) experiment has a decision")
	}
	if d == nil {
		return
	}
	switch {
	case d.Outcome == "":
		v.add("decision.outcome", "outcome is required (one of %s)", joinNames(Outcomes))
	case !contains(Outcomes, d.Outcome):
		v.add("decision.outcome", "unknown outcome %q%s (one of %s)", d.Outcome, suggest(string(d.Outcome), names(Outcomes)), joinNames(Outcomes))
	case d.Outcome == OutcomeShip && d.Variant == "":
		v.add("decision.variant", "a ship decision names the variant it ships")
	case d.Outcome == OutcomeShip && !variants[d.Variant]:
		v.add("decision.variant", "%q is not one of the experiment's variants (%s)", d.Variant, joinNames(vs))
	case d.Outcome != OutcomeShip && d.Variant != "":
		v.add("decision.variant", "only a ship decision names a variant")
	}
	if d.DefaultSet && d.Outcome != OutcomeShip {
		v.add("decision.defaultSet", "only a ship decision sets the flag's default")
	}
	switch {
	case d.Reason == "":
		v.add("decision.reason", "say why (it is the decision's record)")
	case len(d.Reason) > MaxDescriptionLen:
		v.add("decision.reason", "%d characters, above the limit of %d", len(d.Reason), MaxDescriptionLen)
	}
	if d.DecidedBy == "" {
		v.add("decision.decidedBy", "a decision records who made it")
	}
	if d.DecidedAt.IsZero() {
		v.add("decision.decidedAt", "a decision records when it was made")
	}
}

func hasEnvironment(f *File, key string) bool {
	for _, e := range f.Environments {
		if e.Key == key {
			return true
		}
	}
	return false
}

func envKeys(f *File) []string {
	out := make([]string, len(f.Environments))
	for i, e := range f.Environments {
		out[i] = e.Key
	}
	return out
}

func findFlag(f *File, key string) *Flag {
	for i := range f.Flags {
		if f.Flags[i].Key == key {
			return &f.Flags[i]
		}
	}
	return nil
}

func flagKeys(f *File) []string {
	out := make([]string, len(f.Flags))
	for i, fl := range f.Flags {
		out[i] = fl.Key
	}
	return out
}

// ParseExperiment decodes one experiment from YAML or JSON, strictly like
// Parse: unknown fields and duplicate keys are errors that name the line.
// It does not validate; call Validate.
func ParseExperiment(data []byte) (*Experiment, error) {
	var e Experiment
	if err := decodeDocument(data, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ParseMetric decodes one metric from YAML or JSON, strictly like Parse.
// It does not validate; call Validate.
func ParseMetric(data []byte) (*Metric, error) {
	var m Metric
	if err := decodeDocument(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func decodeDocument(data []byte, v any) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("document is %d bytes, above the limit of %d", len(data), MaxFileSize)
	}
	if DetectFormat(data) == FormatJSON {
		return decodeJSON(data, v)
	}
	return decodeYAML(data, v)
}

// UnmarshalYAML reads sample sizes from a mapping, keeping their order.
func (s *SampleSizes) UnmarshalYAML(node *yaml.Node) error {
	pairs, err := mappingPairs(node, "sample size variant")
	if err != nil {
		return err
	}
	out := make(SampleSizes, 0, len(pairs))
	for _, p := range pairs {
		var n int64
		if err := p[1].Decode(&n); err != nil {
			return fmt.Errorf("line %d: the sample size of %q must be a whole number of units", p[1].Line, p[0].Value)
		}
		out = append(out, VariantUnits{Variant: p[0].Value, Units: n})
	}
	*s = out
	return nil
}

// MarshalYAML writes sample sizes as a mapping in variant order.
func (s SampleSizes) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, v := range s {
		n.Content = append(n.Content, stringNode(v.Variant),
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(v.Units)})
	}
	return n, nil
}

// UnmarshalJSON reads sample sizes from an object, keeping their order.
func (s *SampleSizes) UnmarshalJSON(data []byte) error {
	out := SampleSizes{}
	err := jsonObject(data, "sample size variant", func(name string, raw json.RawMessage) error {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("the sample size of %q must be a whole number of units", name)
		}
		out = append(out, VariantUnits{Variant: name, Units: n})
		return nil
	})
	*s = out
	return err
}

// MarshalJSON writes sample sizes as an object in variant order.
func (s SampleSizes) MarshalJSON() ([]byte, error) {
	return writeJSONObject(len(s), func(i int) (string, any) { return s[i].Variant, s[i].Units })
}
