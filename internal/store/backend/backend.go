package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
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

// Ref identifies a versioned object.
type Ref struct {
	Kind store.Kind
	Key  string
	Env  string
}

// Tx is one backend transaction, as the shared write logic needs it. Every
// method returns errors already translated into the store sentinels.
//
// Commit reads what it needs in one Current call and writes every version in
// one PutVersions call, so a backend can use a round trip for each rather
// than one per change.
type Tx interface {
	// LockAuditHead blocks until the transaction holds the audit log's
	// tail exclusively, until it ends, and returns the tail.
	LockAuditHead(ctx context.Context) (Head, error)
	// Current returns the current versions of the objects that have one
	// (refs holds no duplicates); objects that never existed are absent
	// from the map.
	Current(ctx context.Context, refs []Ref) (map[Ref]Current, error)
	// LiveStates returns the non-deleted flag states of flag (when flag is
	// not empty) or in env (otherwise), as committed before this
	// transaction's pending PutVersions.
	LiveStates(ctx context.Context, flag, env string) ([]Ref, error)
	// PutVersions records new versions, in order, and makes the last
	// version of each object its current one.
	PutVersions(ctx context.Context, vs []store.Version) error
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
// read once the audit tail is locked. On any error the caller must roll tx
// back.
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

	// Read every object the changeset touches or depends on at once, then
	// apply the changes in order to this view, so a change sees the ones
	// before it (a state may follow its flag's creation).
	var refs []Ref
	seen := map[Ref]bool{}
	need := func(r Ref) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for _, ch := range cs.Changes {
		need(Ref{ch.Kind, ch.Key, ch.Env})
		if ch.Kind == store.KindFlagState {
			need(Ref{store.KindFlag, ch.Key, ""})
			need(Ref{store.KindEnvironment, ch.Env, ""})
		}
	}
	view, err := tx.Current(ctx, refs)
	if err != nil {
		return store.Committed{}, err
	}
	if view == nil {
		view = map[Ref]Current{}
	}
	for _, r := range refs {
		if _, ok := view[r]; !ok {
			view[r] = Current{Content: jsonNull}
		}
	}

	versions := make([]store.Version, len(cs.Changes))
	entries := make([]store.AuditEntry, len(cs.Changes))
	for i, ch := range cs.Changes {
		ref := Ref{ch.Kind, ch.Key, ch.Env}
		what := describe(ch.Kind, ch.Key, ch.Env)
		cur := view[ref]
		if !expected(ch.ExpectedVersion, cur) {
			return store.Committed{}, &store.ConflictError{Target: what, Expected: ch.ExpectedVersion, Current: cur.Version}
		}
		if err := invariants(ctx, tx, view, ch, cur, what); err != nil {
			return store.Committed{}, err
		}
		versions[i] = store.Version{
			Kind: ch.Kind, Key: ch.Key, Env: ch.Env,
			Version: cur.Version + 1,
			Deleted: ch.Delete,
			Content: contents[i],
			Actor:   cs.Actor, Reason: cs.Reason, Action: cs.Action,
			Time: t,
		}
		view[ref] = Current{Version: cur.Version + 1, Deleted: ch.Delete, Content: contents[i]}
		before := jsonNull
		if cur.Exists() {
			before = cur.Content
		}
		diff, err := Diff(before, contents[i])
		if err != nil {
			return store.Committed{}, fmt.Errorf("audit diff for %s: %w", what, err)
		}
		entries[i] = store.AuditEntry{
			Time: t, Actor: cs.Actor, Action: cs.Action, Reason: cs.Reason,
			Target: Target(ch.Kind, ch.Key, ch.Env), Diff: diff,
		}
	}
	if err := tx.PutVersions(ctx, versions); err != nil {
		return store.Committed{}, err
	}
	chain(head, entries)
	if err := tx.AppendAudit(ctx, entries); err != nil {
		return store.Committed{}, err
	}
	numbers := make([]int64, len(versions))
	for i, v := range versions {
		numbers[i] = v.Version
	}
	return store.Committed{Versions: numbers, AuditSeq: entries[len(entries)-1].Seq, Time: t}, nil
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

// invariants checks the rules that depend on other objects, against the
// view of the changeset applied so far.
func invariants(ctx context.Context, tx Tx, view map[Ref]Current, ch store.Change, cur Current, what string) error {
	if ch.Delete {
		if !cur.Exists() {
			return fmt.Errorf("delete %s: %w", what, store.ErrNotFound)
		}
		var live []string
		var err error
		switch ch.Kind {
		case store.KindFlag:
			live, err = liveStates(ctx, tx, view, ch.Key, "")
		case store.KindEnvironment:
			live, err = liveStates(ctx, tx, view, "", ch.Key)
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
	if !view[Ref{store.KindFlag, ch.Key, ""}].Exists() {
		return fmt.Errorf("%s: %w: flag %q does not exist", what, store.ErrInvalid, ch.Key)
	}
	if !view[Ref{store.KindEnvironment, ch.Env, ""}].Exists() {
		return fmt.Errorf("%s: %w: environment %q does not exist", what, store.ErrInvalid, ch.Env)
	}
	return nil
}

// liveStates lists the flag states of flag (or in env) that exist once the
// changes so far apply: the committed ones, corrected by the view.
func liveStates(ctx context.Context, tx Tx, view map[Ref]Current, flag, env string) ([]string, error) {
	committed, err := tx.LiveStates(ctx, flag, env)
	if err != nil {
		return nil, err
	}
	live := map[Ref]bool{}
	for _, r := range committed {
		live[r] = true
	}
	for r, c := range view {
		if r.Kind == store.KindFlagState && (flag != "" && r.Key == flag || flag == "" && r.Env == env) {
			live[r] = c.Exists()
		}
	}
	var out []string
	for r, ok := range live {
		if ok {
			out = append(out, r.Key+"/"+r.Env)
		}
	}
	sort.Strings(out)
	return out, nil
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
