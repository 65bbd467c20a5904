package backend

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weirhq/weir/internal/store"
)

// check validates a changeset on its own, before any database access, and
// returns each change's content as stored (JSON null for a deletion).
func check(cs *store.Changeset) ([][]byte, error) {
	if cs == nil || len(cs.Changes) == 0 {
		return nil, fmt.Errorf("commit: %w: the changeset has no changes", store.ErrInvalid)
	}
	if cs.Actor == "" {
		return nil, fmt.Errorf("commit: %w: the changeset names no actor", store.ErrInvalid)
	}
	var problems []error
	contents := make([][]byte, len(cs.Changes))
	for i, ch := range cs.Changes {
		content, err := checkChange(ch)
		if err != nil {
			problems = append(problems, fmt.Errorf("change %d (%s %q): %w", i+1, ch.Kind, ch.Key, err))
			continue
		}
		contents[i] = content
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("commit: %w: %w", store.ErrInvalid, errors.Join(problems...))
	}
	return contents, nil
}

func checkChange(ch store.Change) ([]byte, error) {
	if ch.Key == "" {
		return nil, errors.New("no key")
	}
	if ch.ExpectedVersion < store.AnyVersion {
		return nil, fmt.Errorf("expected version %d is negative", ch.ExpectedVersion)
	}
	if (ch.Kind == store.KindFlagState) != (ch.Env != "") {
		if ch.Env == "" {
			return nil, errors.New("a flag state needs an environment")
		}
		return nil, fmt.Errorf("only flag states have an environment, got %q", ch.Env)
	}
	var content any
	var contentKey string
	set := 0
	if ch.Flag != nil {
		set++
		def := *ch.Flag
		def.Environments = nil // states are versioned on their own
		content, contentKey = def, ch.Flag.Key
	}
	if ch.State != nil {
		set++
		content, contentKey = ch.State, ch.Key
	}
	if ch.Segment != nil {
		set++
		content, contentKey = ch.Segment, ch.Segment.Key
	}
	if ch.Environment != nil {
		set++
		content, contentKey = ch.Environment, ch.Environment.Key
	}
	if ch.Metric != nil {
		set++
		content, contentKey = ch.Metric, ch.Metric.Key
	}
	if ch.Experiment != nil {
		set++
		content, contentKey = ch.Experiment, ch.Experiment.Key
	}
	want := map[store.Kind]bool{
		store.KindFlag:        ch.Flag != nil,
		store.KindFlagState:   ch.State != nil,
		store.KindSegment:     ch.Segment != nil,
		store.KindEnvironment: ch.Environment != nil,
		store.KindMetric:      ch.Metric != nil,
		store.KindExperiment:  ch.Experiment != nil,
	}
	matches, known := want[ch.Kind]
	switch {
	case !known:
		return nil, fmt.Errorf("unknown kind %q", ch.Kind)
	case ch.Delete && set > 0:
		return nil, errors.New("a deletion carries no content")
	case ch.Delete:
		return jsonNull, nil
	case set != 1 || !matches:
		return nil, fmt.Errorf("needs exactly one content field, the one for %s", ch.Kind)
	case contentKey != ch.Key:
		return nil, fmt.Errorf("content has key %q", contentKey)
	}
	data, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	return data, nil
}
