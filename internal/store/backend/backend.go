package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weirhq/weir/internal/audit"
	"github.com/weirhq/weir/internal/store"
)

// Head is the tail of the audit log: the last entry's sequence number, hash
// and time (zero values when the log is empty).
type Head struct {
	Seq  int64
	Hash []byte
	Time time.Time
}

// Current is the current version of one object. Version is 0 when the object
// has never existed. A deleted object keeps its last version number, with
// Deleted set, so a re-created object continues the numbering.
type Current struct {
	Version int64
	Deleted bool
	// Content is the current content (JSON null when deleted or absent).
	Content []byte
}

// Exists reports whether the object exists and is not deleted.
func (c Current) Exists() bool { return c.Version > 0 && !c.Deleted }

// Tx is one backend transaction, as the shared write logic needs it. Every
// method returns errors already translated into the store sentinels.
type Tx interface {
	// LockAuditHead blocks until the transaction holds the audit log's
	// tail exclusively, until it ends, and returns the tail.
	LockAuditHead(ctx context.Context) (Head, error)
	// Current returns the current version of an object.
	Current(ctx context.Context, kind store.Kind, key, env string) (Current, error)
	// LiveStates returns the targets ("flag/env") of the non-deleted flag
	// states of flag (when flag is not empty) or in env (otherwise).
	LiveStates(ctx context.Context, flag, env string) ([]string, error)
	// PutVersion records a new version and makes it the current one.
	PutVersion(ctx context.Context, v store.Version) error
	// AppendAudit appends entries, whose sequence numbers and hashes are
	// set, and moves the tail to the last one.
	AppendAudit(ctx context.Context, entries []store.AuditEntry) error
	// InsertKey stores a new key.
	InsertKey(ctx context.Context, k store.Key) error
	// Key returns the key with the given id, or store.ErrNotFound.
	Key(ctx context.Context, id string) (store.Key, error)
	// RevokeKey sets a key's revocation time.
	RevokeKey(ctx context.Context, id string, at time.Time) error
}

// Precision is the resolution of every stored time.
const Precision = time.Microsecond

// Timestamp returns t in UTC at the stored precision.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// commitTime is the time of a write whose audit entries follow head: the
// clock, unless it is behind the log, so times never decrease along it.
func commitTime(now time.Time, head Head) time.Time {
	t := Timestamp(now)
	if t.Before(head.Time) {
		return head.Time
	}
	return t
}

// Target names an object in audit entries: "flag-state/checkout/production",
// "flag/checkout", "segment/beta", "environment/production".
func Target(kind store.Kind, key, env string) string {
	if kind == store.KindFlagState {
		return string(kind) + "/" + key + "/" + env
	}
	return string(kind) + "/" + key
}

// describe names an object for error messages: `flag "checkout" in
// production`.
func describe(kind store.Kind, key, env string) string {
	switch kind {
	case store.KindFlagState:
		return fmt.Sprintf("flag %q in %s", key, env)
	case store.KindFlag:
		return fmt.Sprintf("flag definition %q", key)
	default:
		return fmt.Sprintf("%s %q", kind, key)
	}
}

var jsonNull = []byte("null")

// Commit applies cs inside tx and returns what it created. The clock is
// read once the audit tail is locked. On any error the
// caller must roll tx back: Commit may have written part of the changeset.
func Commit(ctx context.Context, tx Tx, cs *store.Changeset, now func() time.Time) (store.Committed, error) {
	contents, err := check(cs)
	if err != nil {
		return store.Committed{}, err
	}
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return store.Committed{}, err
	}
	t := commitTime(now(), head)
	versions := make([]int64, len(cs.Changes))
	entries := make([]store.AuditEntry, 0, len(cs.Changes))
	for i, ch := range cs.Changes {
		what := describe(ch.Kind, ch.Key, ch.Env)
		cur, err := tx.Current(ctx, ch.Kind, ch.Key, ch.Env)
		if err != nil {
			return store.Committed{}, err
		}
		if !expected(ch.ExpectedVersion, cur) {
			return store.Committed{}, &store.ConflictError{Target: what, Expected: ch.ExpectedVersion, Current: cur.Version}
		}
		if err := invariants(ctx, tx, ch, cur, what); err != nil {
			return store.Committed{}, err
		}
		v := store.Version{
			Kind: ch.Kind, Key: ch.Key, Env: ch.Env,
			Version: cur.Version + 1,
			Deleted: ch.Delete,
			Content: contents[i],
			Actor:   cs.Actor, Reason: cs.Reason, Action: cs.Action,
			Time: t,
		}
		if err := tx.PutVersion(ctx, v); err != nil {
			return store.Committed{}, err
		}
		versions[i] = v.Version
		before := jsonNull
		if cur.Exists() {
			before = cur.Content
		}
		diff, err := Diff(before, contents[i])
		if err != nil {
			return store.Committed{}, fmt.Errorf("audit diff for %s: %w", what, err)
		}
		entries = append(entries, store.AuditEntry{
			Time: t, Actor: cs.Actor, Action: cs.Action, Reason: cs.Reason,
			Target: Target(ch.Kind, ch.Key, ch.Env), Diff: diff,
		})
	}
	chain(head, entries)
	if err := tx.AppendAudit(ctx, entries); err != nil {
		return store.Committed{}, err
	}
	return store.Committed{Versions: versions, AuditSeq: entries[len(entries)-1].Seq, Time: t}, nil
}

// expected reports whether a change computed from version want may be
// applied to cur. A deleted object can be re-created either as new (0) or
// from its deleted version.
func expected(want int64, cur Current) bool {
	switch {
	case want == store.AnyVersion:
		return true
	case want == 0:
		return !cur.Exists()
	default:
		return want == cur.Version
	}
}

// invariants checks the rules that depend on other objects.
func invariants(ctx context.Context, tx Tx, ch store.Change, cur Current, what string) error {
	if ch.Delete {
		if !cur.Exists() {
			return fmt.Errorf("delete %s: %w", what, store.ErrNotFound)
		}
		var live []string
		var err error
		switch ch.Kind {
		case store.KindFlag:
			live, err = tx.LiveStates(ctx, ch.Key, "")
		case store.KindEnvironment:
			live, err = tx.LiveStates(ctx, "", ch.Key)
		}
		if err != nil {
			return err
		}
		if len(live) > 0 {
			return fmt.Errorf("delete %s: %w: flag states %v still exist; delete them first, in the same changeset if you like", what, store.ErrInvalid, live)
		}
		return nil
	}
	if ch.Kind != store.KindFlagState {
		return nil
	}
	flag, err := tx.Current(ctx, store.KindFlag, ch.Key, "")
	if err != nil {
		return err
	}
	if !flag.Exists() {
		return fmt.Errorf("%s: %w: flag %q does not exist", what, store.ErrInvalid, ch.Key)
	}
	env, err := tx.Current(ctx, store.KindEnvironment, ch.Env, "")
	if err != nil {
		return err
	}
	if !env.Exists() {
		return fmt.Errorf("%s: %w: environment %q does not exist", what, store.ErrInvalid, ch.Env)
	}
	return nil
}

// chain numbers entries after head and links their hashes.
func chain(head Head, entries []store.AuditEntry) {
	prev := head.Hash
	for i := range entries {
		entries[i].Seq = head.Seq + int64(i) + 1
		entries[i].PrevHash = prev
		entries[i].Hash = audit.Hash(prev, entries[i])
		prev = entries[i].Hash
	}
}

// Diff returns the audit diff {"before": before, "after": after} of two JSON
// documents (JSON null for "absent"), keeping their member order.
func Diff(before, after []byte) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"before":`)
	if err := json.Compact(&b, before); err != nil {
		return nil, err
	}
	b.WriteString(`,"after":`)
	if err := json.Compact(&b, after); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
