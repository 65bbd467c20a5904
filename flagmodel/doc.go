// Package flagmodel is Weir's data model: environments, flags with typed
// variants, per-environment flag state (targets, prerequisites, ordered rules,
// default serve), segments, clauses and splits, and the metrics and
// experiments that measure flags. It also defines the flags-as-code file
// format, in YAML and in JSON, and validates it.
//
// The package is pure: it parses bytes and checks values, and never performs
// I/O. Parse decodes a file strictly (unknown fields are errors, duplicate
// keys are errors) and keeps the declared order of variants, split weights and
// targets, because bucketing assigns consecutive bucket ranges in declared
// order. Validate then reports every problem it finds at once, each with the
// location of the offending value, for example:
//
//	flags[3] "new-checkout": environments.production.rules[1].when[0].op: unknown operator "startwith" (did you mean "startsWith"?)
//
// A File that passes Validate can be prepared for evaluation by package eval.
//
// Parse stores what it decodes compactly (see Interner): equal strings share
// one copy and slices share a few large arrays, because servers keep whole
// configurations of thousands of flags in memory. Values are unchanged, and
// each model still owns its slices: they have no spare capacity, so appending
// to one copies it.
//
// Metrics may be declared in a File. Experiments are not part of it: they
// have a lifecycle of their own and are read with ParseExperiment and
// checked with Experiment.Validate, which also checks their references when
// given the configuration they belong to.
//
// Split weights are written in percent with up to three decimals (12.5 means
// 12.5%) and are held as integers in thousandths of a percent (12500), so
// 100000 is the whole population and no floating-point rounding can make a
// split sum to anything but exactly 100%.
package flagmodel
