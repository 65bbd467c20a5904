package backend

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/weirhq/weir/internal/store"
)

// UnitTokenKeySize is the length in bytes of an environment's unit token
// key.
const UnitTokenKeySize = 32

// NewUnitTokenKey returns a new random unit token key.
func NewUnitTokenKey() []byte {
	key := make([]byte, UnitTokenKeySize)
	rand.Read(key) // never fails; see crypto/rand
	return key
}

// CheckEvents validates batches before any database access. For each batch
// it reports whether an earlier batch of the same call has the same
// (Env, ID), in which case only the first copy is stored; and it returns the
// environments the batches name, each once, in order of appearance, so the
// backend can check that they exist. A malformed batch is store.ErrInvalid.
//
// The checks are the ones without which a stored event would be unusable
// (no unit, no flag, a value that is not a number), not the intake's full
// validation, and they are cheap: they run on every event of the hot path.
func CheckEvents(batches []store.EventBatch) (repeated []bool, envs []string, err error) {
	repeated = make([]bool, len(batches))
	type batchKey struct{ env, id string }
	var seen map[batchKey]bool
	if len(batches) > 1 {
		seen = make(map[batchKey]bool, len(batches))
	}
	for i := range batches {
		b := &batches[i]
		if err := checkBatch(b); err != nil {
			return nil, nil, fmt.Errorf("%w: batch %d (id %q in %q): %w", store.ErrInvalid, i, b.ID, b.Env, err)
		}
		if !slices.Contains(envs, b.Env) {
			envs = append(envs, b.Env)
		}
		if seen != nil {
			k := batchKey{b.Env, b.ID}
			repeated[i] = seen[k]
			seen[k] = true
		}
	}
	return repeated, envs, nil
}

func checkBatch(b *store.EventBatch) error {
	switch {
	case b.Env == "":
		return fmt.Errorf("no environment")
	case !isText(b.Env):
		return fmt.Errorf("the environment is not UTF-8 text")
	case b.ID == "":
		return fmt.Errorf("no id")
	case !isText(b.ID):
		return fmt.Errorf("the id is not UTF-8 text")
	case b.ReceivedAt.IsZero():
		return fmt.Errorf("no time received")
	case b.Dropped < 0:
		return fmt.Errorf("dropped %d is negative", b.Dropped)
	}
	for i := range b.Exposures {
		e := &b.Exposures[i]
		switch {
		case e.Time.IsZero():
			return fmt.Errorf("exposure %d: no time", i)
		case len(e.Unit) == 0:
			return fmt.Errorf("exposure %d: no unit", i)
		case e.Flag == "" || e.Variant == "":
			return fmt.Errorf("exposure %d: no flag or variant", i)
		case !isText(e.Flag) || !isText(e.Variant) || !isText(e.Reason) || !isText(e.Experiment) || !isText(e.Rollout):
			return fmt.Errorf("exposure %d: a name is not UTF-8 text", i)
		}
	}
	for i := range b.Tracks {
		e := &b.Tracks[i]
		switch {
		case e.Time.IsZero():
			return fmt.Errorf("track event %d: no time", i)
		case len(e.Unit) == 0:
			return fmt.Errorf("track event %d: no unit", i)
		case e.Name == "":
			return fmt.Errorf("track event %d: no name", i)
		case !isText(e.Name):
			return fmt.Errorf("track event %d: the name is not UTF-8 text", i)
		case e.HasValue && (math.IsNaN(e.Value) || math.IsInf(e.Value, 0)):
			return fmt.Errorf("track event %d: value %v is not a finite number", i, e.Value)
		case e.Properties != nil && !isObject(e.Properties):
			return fmt.Errorf("track event %d: properties are not a JSON object", i)
		}
	}
	return nil
}

// isText reports whether s is UTF-8 without NUL characters, which
// PostgreSQL's text cannot hold, so that both backends accept the same
// strings.
func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// isObject reports whether data is one JSON object, possibly surrounded by
// white space, that PostgreSQL's jsonb can hold: UTF-8 without \u0000 (an
// escaped backslash followed by u0000 is refused too, which is rare
// enough).
func isObject(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return json.Valid(data) && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u0000`))
		}
		return false
	}
	return false
}

// FinishEventStats sorts the per-flag and per-metric counts read from a
// database in any order, byte-wise as Go compares strings (so both
// backends agree whatever their collation), and fills the totals from
// them.
func FinishEventStats(st *store.EventStats) {
	slices.SortFunc(st.Flags, func(a, b store.FlagVariantCount) int {
		return cmp.Or(cmp.Compare(a.Flag, b.Flag), cmp.Compare(a.Variant, b.Variant),
			cmp.Compare(a.Experiment, b.Experiment), cmp.Compare(a.Rollout, b.Rollout))
	})
	slices.SortFunc(st.Metrics, func(a, b store.MetricCount) int { return cmp.Compare(a.Name, b.Name) })
	st.Exposures, st.Tracks = 0, 0
	for _, f := range st.Flags {
		st.Exposures += f.Exposures
	}
	for _, m := range st.Metrics {
		st.Tracks += m.Events
	}
}

// CheckDeleteLimit validates DeleteEventsBefore's limit.
func CheckDeleteLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: the limit %d is not positive", store.ErrInvalid, limit)
	}
	return nil
}
