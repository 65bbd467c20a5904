package flagmodel

// File is a flags-as-code document: the environments it targets, reusable
// segments, flags and the metrics experiments measure. The same shape is
// read from YAML and from JSON.
type File struct {
	Environments []Environment `json:"environments,omitempty" yaml:"environments,omitempty"`
	Segments     []Segment     `json:"segments,omitempty" yaml:"segments,omitempty"`
	Flags        []Flag        `json:"flags,omitempty" yaml:"flags,omitempty"`
	Metrics      []Metric      `json:"metrics,omitempty" yaml:"metrics,omitempty"`
}

// Environment is an isolated set of flag states (development, staging,
// production, …).
type Environment struct {
	Key         string `json:"key" yaml:"key"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Protected environments require an approval for changes.
	Protected bool `json:"protected,omitempty" yaml:"protected,omitempty"`
	// PrivateAttributes are context attributes used for evaluation but never
	// stored or forwarded in events.
	PrivateAttributes []string `json:"privateAttributes,omitempty" yaml:"privateAttributes,omitempty"`
	// EventProperties is the allow-list of track-event properties the
	// intake stores; others are dropped. A private attribute can never be
	// allowed.
	EventProperties []string `json:"eventProperties,omitempty" yaml:"eventProperties,omitempty"`
	// RetentionDays is how long the environment's events are kept (default
	// DefaultRetentionDays).
	RetentionDays int `json:"retentionDays,omitempty" yaml:"retentionDays,omitempty"`
	// Holdout keeps a share of units out of every experiment of the
	// environment: for them, rules whose split serves an experiment are
	// skipped, so they get what they would get without experiments.
	Holdout *Holdout `json:"holdout,omitempty" yaml:"holdout,omitempty"`
}

// Holdout is an environment's share of units kept out of all experiments:
// units whose bucket under Seed is below Weight (thousandths of a percent).
type Holdout struct {
	// Weight is the held-out share in thousandths of a percent (e.g. 5000
	// for 5%).
	Weight int `json:"weight" yaml:"weight"`
	// Seed is hashed with the unit's value (default "holdout." + the
	// environment key). Changing it reshuffles who is held out.
	Seed string `json:"seed,omitempty" yaml:"seed,omitempty"`
	// BucketBy names the unit attribute (default "targetingKey"). A
	// context without it is not held out.
	BucketBy string `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
}

// DefaultRetentionDays is how long events are kept when an environment
// does not say.
const DefaultRetentionDays = 90

// MaxRetentionDays bounds an environment's event retention (10 years).
const MaxRetentionDays = 3650

// Retention returns the environment's event retention in days.
func (e *Environment) Retention() int {
	if e.RetentionDays > 0 {
		return e.RetentionDays
	}
	return DefaultRetentionDays
}

// Segment is a reusable audience. A context is in the segment when its
// targeting key is included, or when it is not excluded and any rule matches.
type Segment struct {
	Key         string        `json:"key" yaml:"key"`
	Description string        `json:"description,omitempty" yaml:"description,omitempty"`
	Included    []string      `json:"included,omitempty" yaml:"included,omitempty"`
	Excluded    []string      `json:"excluded,omitempty" yaml:"excluded,omitempty"`
	Rules       []SegmentRule `json:"rules,omitempty" yaml:"rules,omitempty"`
}

// SegmentRule matches when all of its clauses match.
type SegmentRule struct {
	ID   string   `json:"id,omitempty" yaml:"id,omitempty"`
	When []Clause `json:"when" yaml:"when"`
}

// Kind says what a flag is for; it changes no evaluation behaviour but drives
// defaults, lifecycle hygiene and the dashboard.
type Kind string

// Flag kinds.
const (
	KindRelease     Kind = "release"
	KindExperiment  Kind = "experiment"
	KindOperational Kind = "operational"
	KindKillSwitch  Kind = "kill-switch"
	KindPermission  Kind = "permission"
)

// Kinds lists every valid Kind.
var Kinds = []Kind{KindRelease, KindExperiment, KindOperational, KindKillSwitch, KindPermission}

// ValueType is the type shared by all variant values of a flag.
type ValueType string

// Value types.
const (
	TypeBoolean ValueType = "boolean"
	TypeString  ValueType = "string"
	TypeNumber  ValueType = "number"
	TypeObject  ValueType = "object"
)

// ValueTypes lists every valid ValueType.
var ValueTypes = []ValueType{TypeBoolean, TypeString, TypeNumber, TypeObject}

// Flag is a feature flag: its identity, its typed variants and its state in
// each environment.
type Flag struct {
	Key         string    `json:"key" yaml:"key"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	Owner       string    `json:"owner,omitempty" yaml:"owner,omitempty"`
	Kind        Kind      `json:"kind,omitempty" yaml:"kind,omitempty"`
	Type        ValueType `json:"type" yaml:"type"`
	// Variants are the named values the flag can serve, in declared order.
	Variants Variants `json:"variants" yaml:"variants"`
	Tags     []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Sunset is the date (YYYY-MM-DD) after which the flag should be removed.
	Sunset string `json:"sunset,omitempty" yaml:"sunset,omitempty"`
	// Environments holds the flag's state per environment key. A flag with no
	// state in an environment is disabled there and serves no variant.
	Environments map[string]*FlagState `json:"environments,omitempty" yaml:"environments,omitempty"`
}

// Variant returns the variant named name and whether it exists.
func (f *Flag) Variant(name string) (Variant, bool) {
	for _, v := range f.Variants {
		if v.Key == name {
			return v, true
		}
	}
	return Variant{}, false
}

// FlagState is a flag's configuration in one environment.
type FlagState struct {
	Enabled bool `json:"enabled" yaml:"enabled"`
	// OffVariant is served while the flag is disabled or a prerequisite
	// fails. Without it, those cases serve no variant and the application
	// falls back to its code default.
	OffVariant string `json:"offVariant,omitempty" yaml:"offVariant,omitempty"`
	// Targets maps a variant to the targeting keys that always receive it.
	Targets       Targets        `json:"targets,omitempty" yaml:"targets,omitempty"`
	Prerequisites []Prerequisite `json:"prerequisites,omitempty" yaml:"prerequisites,omitempty"`
	// Rules are tried in order; the first whose clauses all match serves.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Default is served when no target or rule matches. Required while the
	// flag is enabled.
	Default *Serve `json:"default,omitempty" yaml:"default,omitempty"`
	// Version is the state's version in a store. It is not part of the file
	// format: stores and snapshots set it, files never carry it.
	Version int64 `json:"-" yaml:"-"`
}

// Prerequisite requires another flag, evaluated for the same context in the
// same environment, to be enabled and to serve one of Variants.
type Prerequisite struct {
	Flag     string   `json:"flag" yaml:"flag"`
	Variants []string `json:"variants" yaml:"variants"`
}

// Rule serves Serve when every clause in When matches. A rule with no
// clauses matches every context.
type Rule struct {
	ID          string   `json:"id,omitempty" yaml:"id,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	When        []Clause `json:"when,omitempty" yaml:"when,omitempty"`
	// Traffic, when set, limits the rule to a share of units: those whose
	// bucket under Traffic's seed falls in its range. Experiments use it to
	// take part of the traffic, and layers to keep experiments apart.
	Traffic *Traffic `json:"traffic,omitempty" yaml:"traffic,omitempty"`
	Serve   Serve    `json:"serve" yaml:"serve"`
}

// Traffic is a range of buckets: a rule with Traffic matches only units
// whose bucket (the bucketing function over Seed and the BucketBy value)
// is in [From, To). Bounds are in thousandths of a percent, like split
// weights: {from: 0, to: 10000} is 10% of units.
type Traffic struct {
	// Seed is hashed with the unit's value: a layer's key, so that the
	// experiments of a layer take disjoint ranges of the same buckets.
	Seed string `json:"seed" yaml:"seed"`
	// BucketBy names the unit attribute (default "targetingKey").
	BucketBy string `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
	From     int    `json:"from" yaml:"from"`
	To       int    `json:"to" yaml:"to"`
}

// Clause tests one context attribute with an operator against a list of
// values; it matches when the operator holds for any of the values. Negate
// inverts a decided result (see the evaluation spec for missing attributes
// and type mismatches, which never match).
type Clause struct {
	Attribute string   `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	Op        Operator `json:"op" yaml:"op"`
	Values    []any    `json:"values,omitempty" yaml:"values,omitempty"`
	Negate    bool     `json:"negate,omitempty" yaml:"negate,omitempty"`
}

// Serve is what a rule or a default serves: one variant, or a weighted split
// of variants bucketed by an attribute.
type Serve struct {
	Variant string `json:"variant,omitempty" yaml:"variant,omitempty"`
	// Split holds the weights in declared order; variants take consecutive
	// bucket ranges in that order.
	Split Weights `json:"split,omitempty" yaml:"split,omitempty"`
	// BucketBy names the attribute hashed for the split (default
	// "targetingKey").
	BucketBy string `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
	// Seed is hashed with the attribute value (default: the flag key).
	Seed string `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Experiment names the experiment this split serves. Results it serves
	// carry the key, and SDKs record an exposure for them.
	Experiment string `json:"experiment,omitempty" yaml:"experiment,omitempty"`
	// Rollout names the guarded rollout this split serves; like Experiment,
	// it makes evaluations record exposures. A split serves at most one of
	// the two.
	Rollout string `json:"rollout,omitempty" yaml:"rollout,omitempty"`
}

// IsSplit reports whether the serve is a split rather than a single variant.
func (s *Serve) IsSplit() bool { return len(s.Split) > 0 }

// TargetingKey is the context attribute that identifies the evaluated unit.
const TargetingKey = "targetingKey"

// WeightScale is the total of a split's weights: 100% in thousandths of a
// percent.
const WeightScale = 100000
