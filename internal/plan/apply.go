package plan

import (
	"fmt"
	"sort"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// Apply returns the configuration that committing cs onto base produced,
// without reading the store: base is left untouched (slices and states are
// copied where they change) and the new versions come from committed. It
// is how a server refreshes its view after its own write when no other
// writer committed in between.
func Apply(base *store.Config, cs *store.Changeset, committed store.Committed) (*store.Config, error) {
	if len(committed.Versions) != len(cs.Changes) {
		return nil, fmt.Errorf("apply changes: %d versions for %d changes", len(committed.Versions), len(cs.Changes))
	}
	out := &store.Config{
		Environments: append([]store.Versioned[flagmodel.Environment](nil), base.Environments...),
		Segments:     append([]store.Versioned[flagmodel.Segment](nil), base.Segments...),
		Flags:        append([]store.Versioned[flagmodel.Flag](nil), base.Flags...),
		Metrics:      append([]store.Versioned[flagmodel.Metric](nil), base.Metrics...),
		Experiments:  append([]store.Versioned[flagmodel.Experiment](nil), base.Experiments...),
		AuditSeq:     committed.AuditSeq,
	}
	// New states are copied into one array: a configuration of many flags
	// is often applied at once, and one allocation per state would scatter
	// them among the request's short-lived data.
	newStates := 0
	for _, c := range cs.Changes {
		if c.Kind == store.KindFlagState && !c.Delete {
			newStates++
		}
	}
	stateCopies := make([]flagmodel.FlagState, 0, newStates)
	flagIdx := func(key string) int {
		for i := range out.Flags {
			if out.Flags[i].Value.Key == key {
				return i
			}
		}
		return -1
	}
	for i, c := range cs.Changes {
		v := committed.Versions[i]
		switch c.Kind {
		case store.KindEnvironment:
			out.Environments = upsert(out.Environments, c.Key, c.Delete, func(e flagmodel.Environment) string { return e.Key },
				func() store.Versioned[flagmodel.Environment] {
					return store.Versioned[flagmodel.Environment]{Value: *c.Environment, Version: v}
				})
		case store.KindSegment:
			out.Segments = upsert(out.Segments, c.Key, c.Delete, func(s flagmodel.Segment) string { return s.Key },
				func() store.Versioned[flagmodel.Segment] {
					return store.Versioned[flagmodel.Segment]{Value: *c.Segment, Version: v}
				})
		case store.KindFlag:
			var states map[string]*flagmodel.FlagState
			if j := flagIdx(c.Key); j >= 0 {
				states = out.Flags[j].Value.Environments
			}
			out.Flags = upsert(out.Flags, c.Key, c.Delete, func(f flagmodel.Flag) string { return f.Key },
				func() store.Versioned[flagmodel.Flag] {
					def := *c.Flag
					def.Environments = states
					return store.Versioned[flagmodel.Flag]{Value: def, Version: v}
				})
		case store.KindFlagState:
			j := flagIdx(c.Key)
			if j < 0 {
				return nil, fmt.Errorf("apply changes: state of unknown flag %q", c.Key)
			}
			envStates := make(map[string]*flagmodel.FlagState, len(out.Flags[j].Value.Environments)+1)
			for env, st := range out.Flags[j].Value.Environments {
				envStates[env] = st
			}
			if c.Delete {
				delete(envStates, c.Env)
			} else {
				stateCopies = append(stateCopies, *c.State)
				st := &stateCopies[len(stateCopies)-1]
				st.Version = v
				envStates[c.Env] = st
			}
			out.Flags[j].Value.Environments = envStates
		case store.KindMetric:
			out.Metrics = upsert(out.Metrics, c.Key, c.Delete, func(m flagmodel.Metric) string { return m.Key },
				func() store.Versioned[flagmodel.Metric] {
					return store.Versioned[flagmodel.Metric]{Value: *c.Metric, Version: v}
				})
		case store.KindExperiment:
			out.Experiments = upsert(out.Experiments, c.Key, c.Delete, func(e flagmodel.Experiment) string { return e.Key },
				func() store.Versioned[flagmodel.Experiment] {
					return store.Versioned[flagmodel.Experiment]{Value: *c.Experiment, Version: v}
				})
		}
	}
	sort.Slice(out.Environments, func(i, j int) bool { return out.Environments[i].Value.Key < out.Environments[j].Value.Key })
	sort.Slice(out.Segments, func(i, j int) bool { return out.Segments[i].Value.Key < out.Segments[j].Value.Key })
	sort.Slice(out.Flags, func(i, j int) bool { return out.Flags[i].Value.Key < out.Flags[j].Value.Key })
	sort.Slice(out.Metrics, func(i, j int) bool { return out.Metrics[i].Value.Key < out.Metrics[j].Value.Key })
	sort.Slice(out.Experiments, func(i, j int) bool { return out.Experiments[i].Value.Key < out.Experiments[j].Value.Key })
	return out, nil
}

func upsert[T any](list []store.Versioned[T], key string, del bool, keyOf func(T) string, make func() store.Versioned[T]) []store.Versioned[T] {
	for i := range list {
		if keyOf(list[i].Value) == key {
			if del {
				return append(list[:i:i], list[i+1:]...)
			}
			list[i] = make()
			return list
		}
	}
	if del {
		return list
	}
	return append(list, make())
}
