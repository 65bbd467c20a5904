package experiment

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// held is a range of a layer's buckets held by a running experiment.
type held struct {
	experiment string
	from, to   int
}

// allocate returns the traffic range of e's next phase (nil: every unit),
// refusing action when another running experiment of the same flag and
// environment is outside e's layer, or when e's layer has no room.
//
// Without a layer the range is [0, allocation) under "KEY.traffic", so a
// larger allocation in a later phase keeps the units already in. In a
// layer, e keeps the start of the range it held when that still fits (the
// same property), and otherwise takes the first free range that does.
func allocate(cfg *store.Config, e *flagmodel.Experiment, action string) (*flagmodel.Traffic, error) {
	share := e.Share()
	var taken []held
	for _, o := range cfg.Experiments {
		x := &o.Value
		if x.Key == e.Key || x.State() != flagmodel.StatusRunning || x.Environment != e.Environment {
			continue
		}
		if x.Flag == e.Flag && (e.Layer == "" || x.Layer != e.Layer) {
			return nil, &RefusedError{Action: action, Why: fmt.Sprintf(
				"flag %q already serves running experiment %q in %s; experiments of one flag must share a layer, so that no unit is in both",
				e.Flag, x.Key, e.Environment)}
		}
		if e.Layer == "" || x.Layer != e.Layer {
			continue
		}
		if x.Unit() != e.Unit() {
			return nil, &RefusedError{Action: action, Why: fmt.Sprintf(
				"layer %q buckets units by %q in %s (experiment %q), this experiment by %q; a layer keeps experiments apart only when they bucket the same unit",
				e.Layer, x.Unit(), e.Environment, x.Key, e.Unit())}
		}
		if p := x.CurrentPhase(); p != nil && p.Traffic != nil {
			taken = append(taken, held{x.Key, p.Traffic.From, p.Traffic.To})
		}
	}
	unit := ""
	if e.Unit() != flagmodel.TargetingKey {
		unit = e.BucketBy
	}
	if e.Layer == "" {
		if share == flagmodel.WeightScale {
			return nil, nil
		}
		return &flagmodel.Traffic{Seed: e.Key + ".traffic", BucketBy: unit, From: 0, To: share}, nil
	}
	sort.Slice(taken, func(i, j int) bool { return taken[i].from < taken[j].from })
	if p := e.CurrentPhase(); p != nil && p.Traffic != nil && p.Traffic.Seed == e.Layer && free(taken, p.Traffic.From, p.Traffic.From+share) {
		return &flagmodel.Traffic{Seed: e.Layer, BucketBy: unit, From: p.Traffic.From, To: p.Traffic.From + share}, nil
	}
	cursor, largest := 0, 0
	for _, h := range taken {
		if h.from-cursor >= share {
			break
		}
		largest = max(largest, h.from-cursor)
		cursor = max(cursor, h.to)
	}
	if flagmodel.WeightScale-cursor >= share && (len(taken) == 0 || !overlapsAny(taken, cursor, cursor+share)) {
		return &flagmodel.Traffic{Seed: e.Layer, BucketBy: unit, From: cursor, To: cursor + share}, nil
	}
	largest = max(largest, flagmodel.WeightScale-cursor)
	var holders []string
	for _, h := range taken {
		holders = append(holders, fmt.Sprintf("%s holds [%d, %d)", h.experiment, h.from, h.to))
	}
	return nil, &RefusedError{Action: action, Why: fmt.Sprintf(
		"layer %q in %s has no room for %s%% of units (%s); the largest free range is %s%%: lower the allocation or stop an experiment of the layer",
		e.Layer, e.Environment, flagmodel.FormatPercent(share), strings.Join(holders, ", "), flagmodel.FormatPercent(largest))}
}

// free reports whether [from, to) is within the layer and overlaps no
// held range.
func free(taken []held, from, to int) bool {
	return from >= 0 && to <= flagmodel.WeightScale && !overlapsAny(taken, from, to)
}

func overlapsAny(taken []held, from, to int) bool {
	for _, h := range taken {
		if from < h.to && h.from < to {
			return true
		}
	}
	return false
}
