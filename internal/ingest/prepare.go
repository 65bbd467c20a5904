package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/jsonappend"
	"github.com/weirhq/weir/internal/store"
)

// TokenSize is the length of a unit token in bytes.
const TokenSize = 16

// tokenizer holds each environment's unit token key, fetched from the
// store once and, with a pepper, derived from it.
type tokenizer struct {
	store  Store
	pepper []byte

	mu   sync.Mutex
	keys map[string][]byte
}

func newTokenizer(st Store, pepper []byte) *tokenizer {
	return &tokenizer{store: st, pepper: slices.Clone(pepper), keys: map[string][]byte{}}
}

// key returns env's tokenizing key. Concurrent first calls may all ask the
// store, which gives every one of them the same key.
func (t *tokenizer) key(ctx context.Context, env string) ([]byte, error) {
	t.mu.Lock()
	k, ok := t.keys[env]
	t.mu.Unlock()
	if ok {
		return k, nil
	}
	stored, err := t.store.UnitTokenKey(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("unit token key of environment %q: %w", env, err)
	}
	k = DeriveKey(stored, t.pepper)
	t.mu.Lock()
	t.keys[env] = k
	t.mu.Unlock()
	return k, nil
}

// DeriveKey returns the key units are tokenized with: the environment's
// stored key, or with a pepper HMAC-SHA-256(pepper, stored key), so that
// tokens can only be recomputed by someone who has both the database and
// the pepper.
func DeriveKey(stored, pepper []byte) []byte {
	if len(pepper) == 0 {
		return slices.Clone(stored)
	}
	h := hmac.New(sha256.New, pepper)
	h.Write([]byte("weir unit token key v1\x00"))
	h.Write(stored)
	return h.Sum(nil)
}

// PepperFingerprint returns a short, non-secret identifier of a pepper:
// operators compare it across replicas (and restarts) to check that all
// tokenize alike, without showing the pepper.
func PepperFingerprint(pepper []byte) string {
	sum := sha256.Sum256(append([]byte("weir pepper fingerprint v1\x00"), pepper...))
	return hex.EncodeToString(sum[:4])
}

// Token returns a unit's token under key: HMAC-SHA-256(key, unit)
// truncated to TokenSize bytes.
func Token(key []byte, unit string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(unit))
	return h.Sum(nil)[:TokenSize]
}

// unitHasher tokenizes many units under one key. Reset restores HMAC's
// keyed state without rehashing the key, so a token costs two SHA-256
// blocks.
type unitHasher struct {
	h    hash.Hash
	buf  []byte
	sum  []byte
	slab []byte // tokens of one batch, cut from one allocation
}

func newUnitHasher(key []byte, units int) *unitHasher {
	return &unitHasher{h: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size), slab: make([]byte, 0, units*TokenSize)}
}

func (u *unitHasher) token(unit string) []byte {
	u.h.Reset()
	u.buf = append(u.buf[:0], unit...)
	u.h.Write(u.buf)
	u.sum = u.h.Sum(u.sum[:0])
	start := len(u.slab)
	u.slab = append(u.slab, u.sum[:TokenSize]...)
	return u.slab[start:len(u.slab):len(u.slab)]
}

// prepare turns a validated batch into what the store keeps: units become
// tokens, exposures and track events are separated, and track properties
// are filtered by env's allow-list. It returns how many properties were
// dropped.
func prepare(env *flagmodel.Environment, b *event.Batch, received time.Time, key []byte) (store.EventBatch, int) {
	sb := store.EventBatch{Env: env.Key, ID: b.ID, ReceivedAt: received, Dropped: b.Dropped}
	exposures, tracks := 0, 0
	for i := range b.Events {
		if b.Events[i].Kind == event.KindExposure {
			exposures++
		} else {
			tracks++
		}
	}
	if exposures > 0 {
		sb.Exposures = make([]store.Exposure, 0, exposures)
	}
	if tracks > 0 {
		sb.Tracks = make([]store.Track, 0, tracks)
	}
	units := newUnitHasher(key, len(b.Events))
	dropped := 0
	for i := range b.Events {
		e := &b.Events[i]
		unit := units.token(e.Unit)
		switch e.Kind {
		case event.KindExposure:
			sb.Exposures = append(sb.Exposures, store.Exposure{Time: e.Time, Unit: unit, Flag: e.Flag, Variant: e.Variant,
				FlagVersion: e.FlagVersion, Reason: e.Reason, Experiment: e.Experiment, Rollout: e.Rollout})
		case event.KindTrack:
			t := store.Track{Time: e.Time, Unit: unit, Name: e.Name}
			if e.Value != nil {
				t.Value, t.HasValue = *e.Value, true
			}
			var n int
			t.Properties, n = allowedProperties(env, e.Properties)
			dropped += n
			sb.Tracks = append(sb.Tracks, t)
		}
	}
	return sb, dropped
}

// allowedProperties encodes the properties env allows as a JSON object
// with sorted keys (nil when none is left) and counts the others. A
// private attribute is never kept, even when the allow-list names it.
//
// The object is appended by hand: json.Marshal of a map was a fifth of
// the intake's CPU time per track event.
func allowedProperties(env *flagmodel.Environment, props map[string]any) (json.RawMessage, int) {
	if len(props) == 0 {
		return nil, 0
	}
	var buf [8]string
	kept := buf[:0]
	dropped := 0
	for name := range props {
		if !slices.Contains(env.EventProperties, name) || slices.Contains(env.PrivateAttributes, name) {
			dropped++
			continue
		}
		kept = append(kept, name)
	}
	if len(kept) == 0 {
		return nil, dropped
	}
	slices.Sort(kept) // equal properties, equal bytes
	b := make([]byte, 0, 24*len(kept))
	b = append(b, '{')
	for i, name := range kept {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, name)
		b = append(b, ':')
		switch v := props[name].(type) {
		case string:
			b = jsonappend.String(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case float64:
			var ok bool
			if b, ok = jsonappend.Float(b, v); !ok {
				return nil, len(props)
			}
		default:
			// Validated properties are scalars; if one still is not,
			// keeping none is the safe side.
			return nil, len(props)
		}
	}
	return append(b, '}'), dropped
}
