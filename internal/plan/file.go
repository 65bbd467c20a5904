package plan

import (
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// FileOf turns the stored configuration into a flags file: what `weir
// export` prints and what snapshots are prepared from. Flag states keep
// their versions. Metrics are included; experiments, which have a
// lifecycle of their own, are not. Only environments in envFilter are kept when it is not
// empty.
func FileOf(cfg *store.Config, envFilter ...string) *flagmodel.File {
	keep := func(env string) bool {
		if len(envFilter) == 0 {
			return true
		}
		for _, e := range envFilter {
			if e == env {
				return true
			}
		}
		return false
	}
	f := &flagmodel.File{}
	for _, e := range cfg.Environments {
		if keep(e.Value.Key) {
			f.Environments = append(f.Environments, e.Value)
		}
	}
	for _, s := range cfg.Segments {
		f.Segments = append(f.Segments, s.Value)
	}
	for _, fl := range cfg.Flags {
		v := fl.Value
		v.Environments = nil
		for env, st := range fl.Value.Environments {
			if keep(env) && st != nil {
				if v.Environments == nil {
					v.Environments = map[string]*flagmodel.FlagState{}
				}
				s := *st
				v.Environments[env] = &s
			}
		}
		f.Flags = append(f.Flags, v)
	}
	for _, m := range cfg.Metrics {
		f.Metrics = append(f.Metrics, m.Value)
	}
	return f
}

// Merge returns the configuration that applying desired onto current would
// leave, as a flags file to validate as a whole before committing.
func Merge(current *store.Config, desired *flagmodel.File, opts Options) *flagmodel.File {
	merged := FileOf(current)
	envIdx := map[string]int{}
	for i, e := range merged.Environments {
		envIdx[e.Key] = i
	}
	for _, e := range desired.Environments {
		if i, ok := envIdx[e.Key]; ok {
			merged.Environments[i] = e
		} else {
			merged.Environments = append(merged.Environments, e)
		}
	}
	wantSeg := map[string]bool{}
	for _, s := range desired.Segments {
		wantSeg[s.Key] = true
	}
	var segs []flagmodel.Segment
	for _, s := range merged.Segments {
		if !wantSeg[s.Key] && !opts.Prune {
			segs = append(segs, s)
		}
	}
	merged.Segments = append(segs, desired.Segments...)

	byKey := map[string]*flagmodel.Flag{}
	for i := range merged.Flags {
		byKey[merged.Flags[i].Key] = &merged.Flags[i]
	}
	wantFlag := map[string]bool{}
	for _, f := range desired.Flags {
		wantFlag[f.Key] = true
	}
	var flags []flagmodel.Flag
	for _, f := range merged.Flags {
		if !wantFlag[f.Key] && !opts.Prune {
			flags = append(flags, f)
		}
	}
	for _, f := range desired.Flags {
		nf := f
		nf.Environments = map[string]*flagmodel.FlagState{}
		// States of environments the file does not mention are kept.
		if cur := byKey[f.Key]; cur != nil {
			for env, st := range cur.Environments {
				nf.Environments[env] = st
			}
		}
		for env, st := range f.Environments {
			nf.Environments[env] = st
		}
		flags = append(flags, nf)
	}
	merged.Flags = flags

	wantMetric := map[string]bool{}
	for _, m := range desired.Metrics {
		wantMetric[m.Key] = true
	}
	var metrics []flagmodel.Metric
	for _, m := range merged.Metrics {
		if !wantMetric[m.Key] && !opts.Prune {
			metrics = append(metrics, m)
		}
	}
	merged.Metrics = append(metrics, desired.Metrics...)
	return merged
}
