// Package plan computes what applying a desired flags file to the current
// configuration would change: which environments, segments, flag
// definitions, flag states and metrics are created, changed, deleted or
// left unchanged, each with a readable diff. It is pure: it compares values and
// builds a store.Changeset, and the caller commits it.
//
// Planning is declarative and idempotent. Objects named in the desired file
// are created or updated to match it exactly; objects it does not name are
// left alone unless pruning is asked for. Unchanged objects produce no
// change, so applying the same file twice creates no version.
//
// Every change carries the version it was computed from as its expected
// version, so a concurrent writer makes the commit fail with a conflict
// instead of being overwritten.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// Op is what a plan item does.
type Op string

// Operations.
const (
	OpCreate    Op = "create"
	OpUpdate    Op = "update"
	OpDelete    Op = "delete"
	OpUnchanged Op = "unchanged"
)

// Item is one object's fate in a plan.
type Item struct {
	Op   Op         `json:"op"`
	Kind store.Kind `json:"kind"`
	Key  string     `json:"key"`
	Env  string     `json:"env,omitempty"`
	// Version is the current version (0 when the object does not exist).
	Version int64 `json:"version"`
	// Diff lists the changed fields, one line each, as "- before" / "+ after".
	Diff []string `json:"diff,omitempty"`

	change *store.Change
}

// Plan is the list of items, in a stable order: environments, segments,
// flag definitions and states, metrics, each sorted by key.
type Plan struct {
	Items []Item `json:"items"`
}

// Options tune planning.
type Options struct {
	// Prune deletes segments, flags and metrics that exist but are not in
	// the desired file.
	Prune bool
}

// Counts returns how many items have each operation.
func (p *Plan) Counts() map[Op]int {
	c := map[Op]int{}
	for _, it := range p.Items {
		c[it.Op]++
	}
	return c
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	for _, it := range p.Items {
		if it.Op != OpUnchanged {
			return false
		}
	}
	return true
}

// Changeset returns the store changes of the plan (unchanged items give
// none).
func (p *Plan) Changeset(actor, reason, action string) *store.Changeset {
	cs := &store.Changeset{Actor: actor, Reason: reason, Action: action}
	for _, it := range p.Items {
		if it.change != nil {
			cs.Changes = append(cs.Changes, *it.change)
		}
	}
	return cs
}

// Compute plans the application of desired onto current. desired must be
// valid on its own; the caller validates the merged result (see Merge).
func Compute(current *store.Config, desired *flagmodel.File, opts Options) (*Plan, error) {
	p := &Plan{}
	curEnvs := map[string]store.Versioned[flagmodel.Environment]{}
	for _, e := range current.Environments {
		curEnvs[e.Value.Key] = e
	}
	for _, e := range sortedEnvs(desired.Environments) {
		cur, ok := curEnvs[e.Key]
		e := e
		if err := p.add(store.KindEnvironment, e.Key, "", ok, cur.Value, cur.Version, &e,
			func(c *store.Change) { c.Environment = &e }); err != nil {
			return nil, err
		}
	}

	curSegs := map[string]store.Versioned[flagmodel.Segment]{}
	for _, s := range current.Segments {
		curSegs[s.Value.Key] = s
	}
	wantSegs := map[string]bool{}
	for _, s := range sortedSegments(desired.Segments) {
		wantSegs[s.Key] = true
		cur, ok := curSegs[s.Key]
		s := s
		if err := p.add(store.KindSegment, s.Key, "", ok, cur.Value, cur.Version, &s,
			func(c *store.Change) { c.Segment = &s }); err != nil {
			return nil, err
		}
	}

	curFlags := map[string]store.Versioned[flagmodel.Flag]{}
	for _, f := range current.Flags {
		curFlags[f.Value.Key] = f
	}
	wantFlags := map[string]bool{}
	for _, f := range sortedFlags(desired.Flags) {
		wantFlags[f.Key] = true
		cur, ok := curFlags[f.Key]
		def := Definition(f)
		if err := p.add(store.KindFlag, f.Key, "", ok, Definition(cur.Value), cur.Version, &def,
			func(c *store.Change) { c.Flag = &def }); err != nil {
			return nil, err
		}
		envs := make([]string, 0, len(f.Environments))
		for env := range f.Environments {
			envs = append(envs, env)
		}
		sort.Strings(envs)
		for _, env := range envs {
			st := *f.Environments[env]
			st.Version = 0
			var curState flagmodel.FlagState
			var curVersion int64
			exists := false
			if ok && cur.Value.Environments[env] != nil {
				curState = *cur.Value.Environments[env]
				curVersion = curState.Version
				exists = true
			}
			if err := p.add(store.KindFlagState, f.Key, env, exists, curState, curVersion, &st,
				func(c *store.Change) { c.State = &st }); err != nil {
				return nil, err
			}
		}
	}

	curMetrics := map[string]store.Versioned[flagmodel.Metric]{}
	for _, m := range current.Metrics {
		curMetrics[m.Value.Key] = m
	}
	wantMetrics := map[string]bool{}
	for _, m := range sortedMetrics(desired.Metrics) {
		wantMetrics[m.Key] = true
		cur, ok := curMetrics[m.Key]
		m := m
		if err := p.add(store.KindMetric, m.Key, "", ok, cur.Value, cur.Version, &m,
			func(c *store.Change) { c.Metric = &m }); err != nil {
			return nil, err
		}
	}

	if opts.Prune {
		for _, f := range current.Flags {
			if !wantFlags[f.Value.Key] {
				envs := make([]string, 0, len(f.Value.Environments))
				for env := range f.Value.Environments {
					envs = append(envs, env)
				}
				sort.Strings(envs)
				for _, env := range envs {
					v := f.Value.Environments[env].Version
					p.Items = append(p.Items, Item{Op: OpDelete, Kind: store.KindFlagState, Key: f.Value.Key, Env: env, Version: v,
						Diff:   []string{"- flag " + f.Value.Key + " in " + env},
						change: &store.Change{Kind: store.KindFlagState, Key: f.Value.Key, Env: env, ExpectedVersion: v, Delete: true}})
				}
				p.Items = append(p.Items, Item{Op: OpDelete, Kind: store.KindFlag, Key: f.Value.Key, Version: f.Version,
					Diff:   []string{"- flag " + f.Value.Key},
					change: &store.Change{Kind: store.KindFlag, Key: f.Value.Key, ExpectedVersion: f.Version, Delete: true}})
			}
		}
		for _, s := range current.Segments {
			if !wantSegs[s.Value.Key] {
				p.Items = append(p.Items, Item{Op: OpDelete, Kind: store.KindSegment, Key: s.Value.Key, Version: s.Version,
					Diff:   []string{"- segment " + s.Value.Key},
					change: &store.Change{Kind: store.KindSegment, Key: s.Value.Key, ExpectedVersion: s.Version, Delete: true}})
			}
		}
		for _, m := range current.Metrics {
			if !wantMetrics[m.Value.Key] {
				p.Items = append(p.Items, Item{Op: OpDelete, Kind: store.KindMetric, Key: m.Value.Key, Version: m.Version,
					Diff:   []string{"- metric " + m.Value.Key},
					change: &store.Change{Kind: store.KindMetric, Key: m.Value.Key, ExpectedVersion: m.Version, Delete: true}})
			}
		}
	}
	return p, nil
}

// add compares an object's current and desired content and records the
// item, with a change unless they are equal.
func (p *Plan) add(kind store.Kind, key, env string, exists bool, current any, version int64, desired any, fill func(*store.Change)) error {
	after, err := canonical(desired)
	if err != nil {
		return fmt.Errorf("%s %q: %w", kind, key, err)
	}
	it := Item{Kind: kind, Key: key, Env: env, Version: version}
	if !exists {
		it.Op = OpCreate
		it.Diff = Diff(nil, after)
	} else {
		before, err := canonical(current)
		if err != nil {
			return fmt.Errorf("%s %q: %w", kind, key, err)
		}
		if bytes.Equal(before, after) {
			it.Op = OpUnchanged
			p.Items = append(p.Items, it)
			return nil
		}
		it.Op = OpUpdate
		it.Diff = Diff(before, after)
	}
	c := &store.Change{Kind: kind, Key: key, Env: env, ExpectedVersion: version}
	fill(c)
	it.change = c
	p.Items = append(p.Items, it)
	return nil
}

// Definition returns a flag without its per-environment states: the part
// versioned as KindFlag.
func Definition(f flagmodel.Flag) flagmodel.Flag {
	f.Environments = nil
	return f
}

func canonical(v any) ([]byte, error) {
	return json.Marshal(v)
}

func sortedEnvs(in []flagmodel.Environment) []flagmodel.Environment {
	out := append([]flagmodel.Environment(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedSegments(in []flagmodel.Segment) []flagmodel.Segment {
	out := append([]flagmodel.Segment(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedMetrics(in []flagmodel.Metric) []flagmodel.Metric {
	out := append([]flagmodel.Metric(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func sortedFlags(in []flagmodel.Flag) []flagmodel.Flag {
	out := append([]flagmodel.Flag(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
