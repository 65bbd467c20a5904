package backend

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// Row is one current, non-deleted object as Load reads it.
type Row struct {
	Kind    store.Kind
	Key     string
	Env     string
	Version int64
	Content []byte
}

// BuildConfig assembles the current configuration from its rows, in any
// order: environments, segments, flags, metrics and experiments sorted by
// key, each flag's Environments filled with its current states (Version
// set). States whose flag is missing cannot occur (Commit forbids them) and
// are skipped. Equal strings of all rows share one copy (flagmodel.Interner):
// the server keeps the configuration, and its flags repeat the same names
// and values many times.
func BuildConfig(rows []Row, auditSeq int64) (*store.Config, error) {
	cfg := &store.Config{AuditSeq: auditSeq}
	var in flagmodel.Interner
	flags := map[string]int{}
	var states []Row
	for _, r := range rows {
		var err error
		switch r.Kind {
		case store.KindEnvironment:
			var v flagmodel.Environment
			err = json.Unmarshal(r.Content, &v)
			in.Environment(&v)
			cfg.Environments = append(cfg.Environments, store.Versioned[flagmodel.Environment]{Value: v, Version: r.Version})
		case store.KindSegment:
			var v flagmodel.Segment
			err = json.Unmarshal(r.Content, &v)
			in.Segment(&v)
			cfg.Segments = append(cfg.Segments, store.Versioned[flagmodel.Segment]{Value: v, Version: r.Version})
		case store.KindFlag:
			var v flagmodel.Flag
			err = json.Unmarshal(r.Content, &v)
			in.Flag(&v)
			flags[r.Key] = len(cfg.Flags)
			cfg.Flags = append(cfg.Flags, store.Versioned[flagmodel.Flag]{Value: v, Version: r.Version})
		case store.KindFlagState:
			states = append(states, r)
		case store.KindMetric:
			var v flagmodel.Metric
			err = json.Unmarshal(r.Content, &v)
			cfg.Metrics = append(cfg.Metrics, store.Versioned[flagmodel.Metric]{Value: v, Version: r.Version})
		case store.KindExperiment:
			var v flagmodel.Experiment
			err = json.Unmarshal(r.Content, &v)
			cfg.Experiments = append(cfg.Experiments, store.Versioned[flagmodel.Experiment]{Value: v, Version: r.Version})
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s version %d: %w", Target(r.Kind, r.Key, r.Env), r.Version, err)
		}
	}
	for _, r := range states {
		i, ok := flags[r.Key]
		if !ok {
			continue
		}
		st := new(flagmodel.FlagState)
		if err := json.Unmarshal(r.Content, st); err != nil {
			return nil, fmt.Errorf("decode %s version %d: %w", Target(r.Kind, r.Key, r.Env), r.Version, err)
		}
		st.Version = r.Version
		st = in.FlagState(st)
		f := &cfg.Flags[i].Value
		if f.Environments == nil {
			f.Environments = map[string]*flagmodel.FlagState{}
		}
		f.Environments[in.String(r.Env)] = st
	}
	sort.Slice(cfg.Environments, func(i, j int) bool { return cfg.Environments[i].Value.Key < cfg.Environments[j].Value.Key })
	sort.Slice(cfg.Segments, func(i, j int) bool { return cfg.Segments[i].Value.Key < cfg.Segments[j].Value.Key })
	sort.Slice(cfg.Flags, func(i, j int) bool { return cfg.Flags[i].Value.Key < cfg.Flags[j].Value.Key })
	sort.Slice(cfg.Metrics, func(i, j int) bool { return cfg.Metrics[i].Value.Key < cfg.Metrics[j].Value.Key })
	sort.Slice(cfg.Experiments, func(i, j int) bool { return cfg.Experiments[i].Value.Key < cfg.Experiments[j].Value.Key })
	return cfg, nil
}
