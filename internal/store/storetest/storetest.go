package storetest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/audit"
	"github.com/weirhq/weir/internal/store"
)

//go:embed testdata/roundtrip.json
var roundTripFile []byte

// Run runs the conformance suite. open must return a new, empty store for
// each call and arrange for it to be closed when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"each change creates the next version, starting at 1", versionsIncreaseByOne},
		{"history lists every version oldest first with who, why, what and when", historyIsComplete},
		{"a rollback writes an old version's content as a new version", rollbackIsANewVersion},
		{"of concurrent writers from the same version exactly one wins", concurrentWritersConflict},
		{"a changeset with one stale change writes nothing", staleChangesetWritesNothing},
		{"a flag state needs its flag and its environment", flagStateNeedsFlagAndEnvironment},
		{"a flag state may follow its flag in the same changeset", flagStateAfterFlagInSameChangeset},
		{"an object changed twice in one changeset gets two versions", changedTwiceInOneChangeset},
		{"a deleted object re-created continues its numbering", deleteThenRecreateContinuesNumbering},
		{"a flag or environment with live states cannot be deleted", deleteWithLiveStatesIsInvalid},
		{"malformed changesets are invalid and write nothing", malformedChangesetsAreInvalid},
		{"load round-trips flag model content exactly", loadRoundTripsContent},
		{"load reports the audit sequence it includes", loadReportsAuditSeq},
		{"the audit log has one hash-chained entry per change", auditIsOneChainedEntryPerChange},
		{"tampering with an audit entry is detected", auditTamperingIsDetected},
		{"the audit log pages by sequence number", auditPages},
		{"commit time is the time of history and audit entries", commitTimeIsRecorded},
		{"keys are created, listed, found by hash and revoked", keysLifecycle},
		{"key creation rejects duplicates and unknown environments", keysRejectInvalid},
		{"missing objects are not found", notFound},
		{"ping answers", ping},
	}
	tests = append(tests, experimentCases...)
	tests = append(tests, eventTests...)
	tests = append(tests, aggregateCases...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func versionsIncreaseByOne(t *testing.T, s store.Store) {
	c := seed(t, s)
	if want := []int64{1, 1, 1, 1}; !reflect.DeepEqual(c.Versions, want) {
		t.Fatalf("first commit created versions %v, want %v", c.Versions, want)
	}
	for v := int64(1); v <= 4; v++ {
		c := mustCommit(t, s, changeset("flag.toggle", setState("checkout", "production", v, v%2 == 0)))
		if c.Versions[0] != v+1 {
			t.Fatalf("change from version %d created version %d, want %d", v, c.Versions[0], v+1)
		}
	}
	if got := stateOf(mustLoad(t, s), "checkout", "production"); got == nil || got.Version != 5 {
		t.Fatalf("Load: state %+v, want version 5", got)
	}
	// Other objects keep their own numbering.
	c = mustCommit(t, s, changeset("flag.enable", setState("checkout", "staging", 0, true)))
	if c.Versions[0] != 1 {
		t.Fatalf("first state in staging is version %d, want 1", c.Versions[0])
	}
}

func historyIsComplete(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, &store.Changeset{Actor: "bob", Reason: "incident 42", Action: "flag.disable",
		Changes: []store.Change{setState("checkout", "production", 1, false)}})
	mustCommit(t, s, &store.Changeset{Actor: "carol", Reason: "fixed", Action: "flag.enable",
		Changes: []store.Change{setState("checkout", "production", store.AnyVersion, true)}})

	h := mustHistory(t, s, store.KindFlagState, "checkout", "production")
	want := []struct {
		actor, reason, action string
		enabled               bool
	}{
		{"alice@example.com", "testing apply", "apply", true},
		{"bob", "incident 42", "flag.disable", false},
		{"carol", "fixed", "flag.enable", true},
	}
	if len(h) != len(want) {
		t.Fatalf("history has %d versions, want %d", len(h), len(want))
	}
	for i, w := range want {
		v := h[i]
		if v.Version != int64(i+1) || v.Kind != store.KindFlagState || v.Key != "checkout" || v.Env != "production" || v.Deleted {
			t.Errorf("version %d: got %s/%s/%s version %d deleted=%v", i+1, v.Kind, v.Key, v.Env, v.Version, v.Deleted)
		}
		if v.Actor != w.actor || v.Reason != w.reason || v.Action != w.action {
			t.Errorf("version %d: actor %q reason %q action %q, want %q %q %q", i+1, v.Actor, v.Reason, v.Action, w.actor, w.reason, w.action)
		}
		var st flagmodel.FlagState
		if err := json.Unmarshal(v.Content, &st); err != nil || st.Enabled != w.enabled {
			t.Errorf("version %d: content %s (%v), want enabled=%v", i+1, v.Content, err, w.enabled)
		}
		if v.Time.IsZero() || time.Since(v.Time) > time.Hour || (i > 0 && v.Time.Before(h[i-1].Time)) {
			t.Errorf("version %d: time %v is not a recent, non-decreasing commit time", i+1, v.Time)
		}
	}
}

func rollbackIsANewVersion(t *testing.T, s store.Store) {
	seed(t, s)
	for v := int64(1); v <= 3; v++ {
		ch := setState("checkout", "production", v, false)
		ch.State.Rules = []flagmodel.Rule{{ID: fmt.Sprint("rule-", v), Serve: flagmodel.Serve{Variant: "off"}}}
		mustCommit(t, s, changeset("flag.update", ch))
	}
	h := mustHistory(t, s, store.KindFlagState, "checkout", "production")
	var first flagmodel.FlagState
	if err := json.Unmarshal(h[0].Content, &first); err != nil {
		t.Fatal(err)
	}
	c := mustCommit(t, s, changeset("rollback", store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production",
		ExpectedVersion: 4, State: &first}))
	if c.Versions[0] != 5 {
		t.Fatalf("rollback created version %d, want 5", c.Versions[0])
	}
	h = mustHistory(t, s, store.KindFlagState, "checkout", "production")
	if len(h) != 5 {
		t.Fatalf("history has %d versions after the rollback, want 5 (history is never rewritten)", len(h))
	}
	if !bytes.Equal(h[4].Content, h[0].Content) {
		t.Fatalf("version 5 content %s, want version 1 content %s", h[4].Content, h[0].Content)
	}
	got := stateOf(mustLoad(t, s), "checkout", "production")
	first.Version = 5
	if !reflect.DeepEqual(got, &first) {
		t.Fatalf("Load after rollback: %+v, want %+v", got, first)
	}
}

func concurrentWritersConflict(t *testing.T, s store.Store) {
	seed(t, s)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Commit(context.Background(), changeset(fmt.Sprint("writer-", i), setState("checkout", "production", 1, false)))
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		var conflict *store.ConflictError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &conflict) && errors.Is(err, store.ErrConflict):
			if conflict.Expected != 1 || conflict.Current != 2 {
				t.Errorf("writer %d: conflict expected %d current %d, want 1 and 2", i, conflict.Expected, conflict.Current)
			}
			if conflict.Target == "" {
				t.Errorf("writer %d: conflict names no target", i)
			}
		default:
			t.Errorf("writer %d: %v, want success or *store.ConflictError", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
	if h := mustHistory(t, s, store.KindFlagState, "checkout", "production"); len(h) != 2 {
		t.Fatalf("history has %d versions, want 2", len(h))
	}
	entries := mustAudit(t, s)
	if len(entries) != 5 {
		t.Fatalf("audit has %d entries, want 5 (4 seeded, 1 winner)", len(entries))
	}
	if err := audit.Verify(entries); err != nil {
		t.Fatalf("audit chain after concurrent writers: %v", err)
	}
}

// everything captures what a store holds, to show that a failed commit
// wrote nothing.
type everything struct {
	cfg     *store.Config
	audit   []store.AuditEntry
	history map[string][]store.Version
}

func capture(t *testing.T, s store.Store) everything {
	t.Helper()
	e := everything{cfg: mustLoad(t, s), audit: mustAudit(t, s), history: map[string][]store.Version{}}
	for _, obj := range []struct {
		kind     store.Kind
		key, env string
	}{
		{store.KindFlagState, "checkout", "production"},
		{store.KindFlagState, "checkout", "staging"},
		{store.KindFlag, "checkout", ""},
		{store.KindFlag, "new-flag", ""},
		{store.KindFlagState, "new-flag", "production"},
		{store.KindEnvironment, "production", ""},
		{store.KindEnvironment, "qa", ""},
		{store.KindSegment, "beta", ""},
	} {
		h, err := s.History(context.Background(), obj.kind, obj.key, obj.env)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("History: %v", err)
		}
		e.history[fmt.Sprint(obj)] = h
	}
	return e
}

func assertUnchanged(t *testing.T, before, after everything) {
	t.Helper()
	if !reflect.DeepEqual(before.cfg, after.cfg) {
		t.Errorf("Load changed after a failed commit:\nbefore %+v\nafter  %+v", before.cfg, after.cfg)
	}
	if len(before.audit) != len(after.audit) {
		t.Errorf("audit grew from %d to %d entries after a failed commit", len(before.audit), len(after.audit))
	}
	for obj, h := range before.history {
		if len(after.history[obj]) != len(h) {
			t.Errorf("history of %s went from %d to %d versions after a failed commit", obj, len(h), len(after.history[obj]))
		}
	}
}

func staleChangesetWritesNothing(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	before := capture(t, s)
	_, err := s.Commit(context.Background(), changeset("apply",
		createEnv("qa"),
		store.Change{Kind: store.KindSegment, Key: "beta", Segment: &flagmodel.Segment{Key: "beta", Included: []string{"u1"}}},
		createFlag("new-flag"),
		setState("new-flag", "production", 0, true),
		setState("checkout", "staging", 0, true),
		setState("checkout", "production", 1, true), // stale: current is 2
	))
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("Commit with a stale change: %v, want *store.ConflictError", err)
	}
	if conflict.Expected != 1 || conflict.Current != 2 {
		t.Fatalf("conflict reports expected %d current %d, want 1 and 2", conflict.Expected, conflict.Current)
	}
	assertUnchanged(t, before, capture(t, s))

	// Creating what exists is stale too: 0 means "must not exist".
	_, err = s.Commit(context.Background(), changeset("apply", createFlag("checkout")))
	if !errors.As(err, &conflict) || conflict.Expected != 0 || conflict.Current != 1 {
		t.Fatalf("creating an existing flag: %v, want a conflict with current version 1", err)
	}
	// And updating what does not exist.
	_, err = s.Commit(context.Background(), changeset("apply", setState("checkout", "staging", 3, true)))
	if !errors.As(err, &conflict) || conflict.Current != 0 {
		t.Fatalf("updating a missing state: %v, want a conflict with current version 0", err)
	}
	assertUnchanged(t, before, capture(t, s))
}

func flagStateNeedsFlagAndEnvironment(t *testing.T, s store.Store) {
	seed(t, s)
	before := capture(t, s)
	tests := []struct {
		name    string
		changes []store.Change
	}{
		{"unknown flag", []store.Change{setState("new-flag", "production", 0, true)}},
		{"unknown environment", []store.Change{setState("checkout", "qa", 0, true)}},
		{"unknown flag after valid changes", []store.Change{createEnv("qa"), setState("checkout", "qa", 0, true), setState("new-flag", "qa", 0, true)}},
	}
	for _, tt := range tests {
		_, err := s.Commit(context.Background(), changeset("apply", tt.changes...))
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Commit = %v, want ErrInvalid", tt.name, err)
		}
	}
	assertUnchanged(t, before, capture(t, s))

	// A deleted flag is as missing as one that never existed.
	mustCommit(t, s, changeset("flag.delete",
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production", ExpectedVersion: 1, Delete: true},
		store.Change{Kind: store.KindFlag, Key: "checkout", ExpectedVersion: 1, Delete: true}))
	if _, err := s.Commit(context.Background(), changeset("apply", setState("checkout", "staging", 0, true))); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("state for a deleted flag: %v, want ErrInvalid", err)
	}
}

func flagStateAfterFlagInSameChangeset(t *testing.T, s store.Store) {
	c := mustCommit(t, s, changeset("apply", createEnv("production"), createFlag("new-flag"), setState("new-flag", "production", 0, true)))
	if want := []int64{1, 1, 1}; !reflect.DeepEqual(c.Versions, want) {
		t.Fatalf("versions %v, want %v", c.Versions, want)
	}
	if st := stateOf(mustLoad(t, s), "new-flag", "production"); st == nil || !st.Enabled || st.Version != 1 {
		t.Fatalf("Load: state %+v, want enabled version 1", st)
	}
}

func changedTwiceInOneChangeset(t *testing.T, s store.Store) {
	seed(t, s)
	c := mustCommit(t, s, changeset("apply",
		setState("checkout", "production", 1, false),
		setState("checkout", "production", 2, true),
		setState("checkout", "staging", 0, true),
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "staging", ExpectedVersion: 1, Delete: true}))
	if want := []int64{2, 3, 1, 2}; !reflect.DeepEqual(c.Versions, want) {
		t.Fatalf("versions %v, want %v", c.Versions, want)
	}
	cfg := mustLoad(t, s)
	if st := stateOf(cfg, "checkout", "production"); st == nil || st.Version != 3 || !st.Enabled {
		t.Fatalf("production state %+v, want enabled version 3", st)
	}
	if st := stateOf(cfg, "checkout", "staging"); st != nil {
		t.Fatalf("staging state %+v, want none (deleted in the same changeset)", st)
	}
	// A flag whose state is created in the same changeset cannot go.
	_, err := s.Commit(context.Background(), changeset("apply",
		setState("checkout", "staging", 0, true),
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production", ExpectedVersion: 3, Delete: true},
		store.Change{Kind: store.KindFlag, Key: "checkout", ExpectedVersion: 1, Delete: true}))
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("deleting a flag after giving it a state in the same changeset: %v, want ErrInvalid", err)
	}
}

func deleteThenRecreateContinuesNumbering(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	c := mustCommit(t, s, changeset("flag.delete",
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production", ExpectedVersion: 2, Delete: true}))
	if c.Versions[0] != 3 {
		t.Fatalf("deletion is version %d, want 3", c.Versions[0])
	}
	if st := stateOf(mustLoad(t, s), "checkout", "production"); st != nil {
		t.Fatalf("Load shows a deleted state: %+v", st)
	}
	if _, err := s.Commit(context.Background(), changeset("flag.delete",
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production", ExpectedVersion: store.AnyVersion, Delete: true})); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting a deleted state: %v, want ErrNotFound", err)
	}
	// Re-creating: "must not exist" (0) holds for a deleted object.
	c = mustCommit(t, s, changeset("flag.enable", setState("checkout", "production", 0, true)))
	if c.Versions[0] != 4 {
		t.Fatalf("re-created state is version %d, want 4", c.Versions[0])
	}
	h := mustHistory(t, s, store.KindFlagState, "checkout", "production")
	if len(h) != 4 || !h[2].Deleted || h[3].Deleted || h[1].Deleted {
		t.Fatalf("history %+v, want 4 versions with only version 3 deleted", h)
	}
	if st := stateOf(mustLoad(t, s), "checkout", "production"); st == nil || st.Version != 4 || !st.Enabled {
		t.Fatalf("Load: %+v, want enabled version 4", st)
	}
}

func deleteWithLiveStatesIsInvalid(t *testing.T, s store.Store) {
	seed(t, s)
	before := capture(t, s)
	for _, ch := range []store.Change{
		{Kind: store.KindFlag, Key: "checkout", ExpectedVersion: 1, Delete: true},
		{Kind: store.KindEnvironment, Key: "production", ExpectedVersion: 1, Delete: true},
	} {
		if _, err := s.Commit(context.Background(), changeset("delete", ch)); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("deleting %s %s with a live state: %v, want ErrInvalid", ch.Kind, ch.Key, err)
		}
	}
	assertUnchanged(t, before, capture(t, s))
	// The staging environment has no states and goes.
	mustCommit(t, s, changeset("delete", store.Change{Kind: store.KindEnvironment, Key: "staging", ExpectedVersion: 1, Delete: true}))
	if cfg := mustLoad(t, s); len(cfg.Environments) != 1 || cfg.Environments[0].Value.Key != "production" {
		t.Fatalf("environments after deleting staging: %+v", cfg.Environments)
	}
}

func malformedChangesetsAreInvalid(t *testing.T, s store.Store) {
	seed(t, s)
	before := capture(t, s)
	seg := &flagmodel.Segment{Key: "beta"}
	tests := []struct {
		name string
		cs   *store.Changeset
	}{
		{"no changes", changeset("apply")},
		{"no actor", &store.Changeset{Action: "apply", Changes: []store.Change{createFlag("new-flag")}}},
		{"content of another kind", changeset("apply", store.Change{Kind: store.KindFlag, Key: "beta", Segment: seg})},
		{"no content", changeset("apply", store.Change{Kind: store.KindSegment, Key: "beta"})},
		{"content with another key", changeset("apply", store.Change{Kind: store.KindSegment, Key: "gamma", Segment: seg})},
		{"a flag state without environment", changeset("apply", setState("checkout", "", 0, true))},
		{"an environment on a segment", changeset("apply", store.Change{Kind: store.KindSegment, Key: "beta", Env: "production", Segment: seg})},
		{"an unknown kind", changeset("apply", store.Change{Kind: "widget", Key: "beta", Segment: seg})},
		{"a negative expected version", changeset("apply", store.Change{Kind: store.KindSegment, Key: "beta", ExpectedVersion: -7, Segment: seg})},
		{"a deletion with content", changeset("apply", store.Change{Kind: store.KindSegment, Key: "beta", Delete: true, Segment: seg})},
	}
	for _, tt := range tests {
		if _, err := s.Commit(context.Background(), tt.cs); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Commit = %v, want ErrInvalid", tt.name, err)
		}
	}
	assertUnchanged(t, before, capture(t, s))
}

func loadRoundTripsContent(t *testing.T, s store.Store) {
	file, err := flagmodel.Parse(roundTripFile)
	if err != nil {
		t.Fatal(err)
	}
	var changes []store.Change
	for i := range file.Environments {
		e := file.Environments[i]
		changes = append(changes, store.Change{Kind: store.KindEnvironment, Key: e.Key, Environment: &e})
	}
	for i := range file.Segments {
		sg := file.Segments[i]
		changes = append(changes, store.Change{Kind: store.KindSegment, Key: sg.Key, Segment: &sg})
	}
	for i := range file.Flags {
		f := file.Flags[i]
		changes = append(changes, store.Change{Kind: store.KindFlag, Key: f.Key, Flag: &f})
		for env, st := range f.Environments {
			changes = append(changes, store.Change{Kind: store.KindFlagState, Key: f.Key, Env: env, State: st})
		}
	}
	mustCommit(t, s, changeset("apply", changes...))
	mustCommit(t, s, changeset("segment.update", store.Change{Kind: store.KindSegment, Key: "beta-testers", ExpectedVersion: 1, Segment: &file.Segments[0]}))

	cfg := mustLoad(t, s)
	var keys []string
	for _, e := range cfg.Environments {
		keys = append(keys, e.Value.Key)
	}
	for _, f := range cfg.Flags {
		keys = append(keys, f.Value.Key)
	}
	if want := []string{"production", "staging", "banner-config", "checkout-redesign", "kill-payments"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("Load keys %v, want environments then flags sorted by key: %v", keys, want)
	}
	want, _ := flagmodel.Parse(roundTripFile) // untouched copy
	for _, e := range cfg.Environments {
		if e.Version != 1 {
			t.Errorf("environment %s version %d, want 1", e.Value.Key, e.Version)
		}
		for _, w := range want.Environments {
			if w.Key == e.Value.Key && !reflect.DeepEqual(e.Value, w) {
				t.Errorf("environment %s:\n got %#v\nwant %#v", w.Key, e.Value, w)
			}
		}
	}
	if len(cfg.Segments) != 1 || cfg.Segments[0].Version != 2 || !reflect.DeepEqual(cfg.Segments[0].Value, want.Segments[0]) {
		t.Errorf("segments:\n got %#v\nwant version 2 of %#v", cfg.Segments, want.Segments[0])
	}
	for _, w := range want.Flags {
		got, ok := findFlag(cfg, w.Key)
		if !ok {
			t.Errorf("flag %s missing", w.Key)
			continue
		}
		if got.Version != 1 {
			t.Errorf("flag %s version %d, want 1", w.Key, got.Version)
		}
		for _, st := range w.Environments {
			st.Version = 1
		}
		if !reflect.DeepEqual(got.Value, w) {
			g, _ := json.Marshal(got.Value)
			wj, _ := json.Marshal(w)
			t.Errorf("flag %s does not round-trip:\n got %s\nwant %s", w.Key, g, wj)
		}
	}
	// The stored content keeps declared order, byte for byte.
	h := mustHistory(t, s, store.KindFlag, "checkout-redesign", "")
	if !bytes.Contains(h[0].Content, []byte(`"variants":{"zeta":"z","alpha":"a","mid":"m"}`)) {
		t.Errorf("stored flag content lost variant order: %s", h[0].Content)
	}
	if bytes.Contains(h[0].Content, []byte(`"environments"`)) {
		t.Errorf("a flag definition's content holds its states: %s", h[0].Content)
	}
}

func loadReportsAuditSeq(t *testing.T, s store.Store) {
	if cfg := mustLoad(t, s); cfg.AuditSeq != 0 || len(cfg.Flags)+len(cfg.Environments)+len(cfg.Segments) != 0 {
		t.Fatalf("empty store: Load = %+v, want nothing at audit sequence 0", cfg)
	}
	c := seed(t, s)
	if c.AuditSeq != 4 {
		t.Fatalf("first commit of 4 changes: AuditSeq %d, want 4", c.AuditSeq)
	}
	c = mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	if cfg := mustLoad(t, s); cfg.AuditSeq != c.AuditSeq || c.AuditSeq != 5 {
		t.Fatalf("Load AuditSeq %d, commit AuditSeq %d, want 5", cfg.AuditSeq, c.AuditSeq)
	}
}

func auditIsOneChainedEntryPerChange(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	mustCommit(t, s, changeset("flag.delete",
		store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production", ExpectedVersion: 2, Delete: true}))
	entries := mustAudit(t, s)
	wantTargets := []string{"environment/production", "environment/staging", "flag/checkout", "flag-state/checkout/production",
		"flag-state/checkout/production", "flag-state/checkout/production"}
	if len(entries) != len(wantTargets) {
		t.Fatalf("audit has %d entries, want %d", len(entries), len(wantTargets))
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) || e.Target != wantTargets[i] || e.Actor != "alice@example.com" {
			t.Errorf("entry %d: seq %d target %q actor %q, want seq %d target %q", i, e.Seq, e.Target, e.Actor, i+1, wantTargets[i])
		}
		if len(e.Hash) == 0 || (i == 0 && len(e.PrevHash) != 0) || (i > 0 && !bytes.Equal(e.PrevHash, entries[i-1].Hash)) {
			t.Errorf("entry %d is not linked to the one before", e.Seq)
		}
	}
	var diffs []struct{ Before, After *flagmodel.FlagState }
	for _, e := range entries[3:] {
		var d struct{ Before, After *flagmodel.FlagState }
		if err := json.Unmarshal(e.Diff, &d); err != nil {
			t.Fatalf("entry %d diff %s: %v", e.Seq, e.Diff, err)
		}
		diffs = append(diffs, d)
	}
	switch {
	case diffs[0].Before != nil || diffs[0].After == nil || !diffs[0].After.Enabled:
		t.Errorf("creation diff %s, want before null and the new state after", entries[3].Diff)
	case diffs[1].Before == nil || !diffs[1].Before.Enabled || diffs[1].After == nil || diffs[1].After.Enabled:
		t.Errorf("update diff %s, want the old state before and the new after", entries[4].Diff)
	case diffs[2].Before == nil || diffs[2].After != nil:
		t.Errorf("deletion diff %s, want the old state before and null after", entries[5].Diff)
	}
	if !bytes.HasPrefix(entries[4].Diff, []byte(`{"before":{`)) || !bytes.Contains(entries[4].Diff, []byte(`,"after":{`)) {
		t.Errorf("diff %s is not {\"before\": …, \"after\": …}", entries[4].Diff)
	}
	if err := audit.Verify(entries); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func auditTamperingIsDetected(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	entries := mustAudit(t, s)
	if err := audit.Verify(entries); err != nil {
		t.Fatalf("Verify the stored log: %v", err)
	}
	tampered := append([]store.AuditEntry(nil), entries...)
	tampered[2].Diff = bytes.Replace(tampered[2].Diff, []byte(`"on"`), []byte(`"On"`), 1)
	if bytes.Equal(tampered[2].Diff, entries[2].Diff) {
		t.Fatalf("test setup: entry 3 diff %s has nothing to tamper with", entries[2].Diff)
	}
	var broken *audit.BrokenError
	if err := audit.Verify(tampered); !errors.As(err, &broken) || broken.Seq != 3 {
		t.Fatalf("Verify after editing entry 3's diff: %v, want entry 3 reported", err)
	}
}

func auditPages(t *testing.T, s store.Store) {
	seed(t, s)
	mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	all := mustAudit(t, s)
	var paged []store.AuditEntry
	after := int64(0)
	for {
		page, err := s.Audit(context.Background(), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d entries, limit 2", len(page))
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if !reflect.DeepEqual(normalizeHashes(paged), normalizeHashes(all)) {
		t.Fatalf("paging gave %d entries, want the same %d as one read", len(paged), len(all))
	}
	if err := audit.Verify(all[2:]); err != nil {
		t.Fatalf("a window of the log does not verify: %v", err)
	}
}

// normalizeHashes maps empty hashes to nil, which drivers may read either
// way.
func normalizeHashes(es []store.AuditEntry) []store.AuditEntry {
	out := append([]store.AuditEntry(nil), es...)
	for i := range out {
		if len(out[i].PrevHash) == 0 {
			out[i].PrevHash = nil
		}
	}
	return out
}

func commitTimeIsRecorded(t *testing.T, s store.Store) {
	c := seed(t, s)
	c2 := mustCommit(t, s, changeset("flag.disable", setState("checkout", "production", 1, false)))
	if c.Time.IsZero() || c2.Time.Before(c.Time) {
		t.Fatalf("commit times %v then %v, want non-zero and non-decreasing", c.Time, c2.Time)
	}
	h := mustHistory(t, s, store.KindFlagState, "checkout", "production")
	if !h[0].Time.Equal(c.Time) || !h[1].Time.Equal(c2.Time) {
		t.Errorf("history times %v, %v; commit times %v, %v", h[0].Time, h[1].Time, c.Time, c2.Time)
	}
	for _, e := range mustAudit(t, s) {
		want := c.Time
		if e.Seq > c.AuditSeq {
			want = c2.Time
		}
		if !e.Time.Equal(want) {
			t.Errorf("audit entry %d time %v, want its commit's time %v", e.Seq, e.Time, want)
		}
	}
}

func keysLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	created := time.Date(2026, 5, 4, 3, 2, 1, 123456000, time.UTC)
	admin := store.Key{ID: "k1", Name: "ci", Scope: store.ScopeAdmin, Hash: []byte("hash-1"), Prefix: "weir_a1", CreatedBy: "alice", CreatedAt: created}
	sdk := store.Key{ID: "k2", Name: "web", Scope: store.ScopeSDK, Env: "production", Hash: []byte("hash-2"), Prefix: "weir_s2", CreatedBy: "bob", CreatedAt: created.Add(time.Second)}
	for _, k := range []store.Key{admin, sdk} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s): %v", k.ID, err)
		}
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !sameKey(keys[0], admin) || !sameKey(keys[1], sdk) {
		t.Fatalf("Keys = %+v, want the two created keys, oldest first", keys)
	}
	got, err := s.KeyByHash(ctx, []byte("hash-2"))
	if err != nil || !sameKey(got, sdk) {
		t.Fatalf("KeyByHash = %+v, %v; want %+v", got, err, sdk)
	}
	if err := s.RevokeKey(ctx, "k2", "carol"); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	got, err = s.KeyByHash(ctx, []byte("hash-2"))
	if err != nil || got.RevokedAt == nil || got.RevokedAt.IsZero() {
		t.Fatalf("KeyByHash of a revoked key = %+v, %v; want the key with RevokedAt set", got, err)
	}
	firstRevocation := *got.RevokedAt
	if err := s.RevokeKey(ctx, "k2", "carol"); err != nil {
		t.Fatalf("revoking again: %v, want success", err)
	}
	keys, _ = s.Keys(ctx)
	if len(keys) != 2 || keys[0].RevokedAt != nil || keys[1].RevokedAt == nil || !keys[1].RevokedAt.Equal(firstRevocation) {
		t.Fatalf("Keys after revocation = %+v, want both, only k2 revoked, at its first revocation", keys)
	}
	if err := s.RevokeKey(ctx, "k9", "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RevokeKey(unknown) = %v, want ErrNotFound", err)
	}
	entries := mustAudit(t, s)
	var actions []string
	for _, e := range entries[4:] {
		actions = append(actions, e.Action+" "+e.Target+" by "+e.Actor)
		if bytes.Contains(e.Diff, []byte("hash-")) {
			t.Errorf("audit entry %d shows a key hash: %s", e.Seq, e.Diff)
		}
	}
	if want := []string{"key.create key/k1 by alice", "key.create key/k2 by bob", "key.revoke key/k2 by carol"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("audit after key changes: %q, want %q", actions, want)
	}
	if err := audit.Verify(entries); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func sameKey(a, b store.Key) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Scope == b.Scope && a.Env == b.Env && bytes.Equal(a.Hash, b.Hash) &&
		a.Prefix == b.Prefix && a.CreatedBy == b.CreatedBy && a.CreatedAt.Equal(b.CreatedAt) && (a.RevokedAt == nil) == (b.RevokedAt == nil)
}

func keysRejectInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	ok := store.Key{ID: "k1", Name: "ci", Scope: store.ScopeAdmin, Hash: []byte("hash-1"), CreatedBy: "alice"}
	if err := s.CreateKey(ctx, ok); err != nil {
		t.Fatal(err)
	}
	auditBefore := len(mustAudit(t, s))
	tests := []struct {
		name string
		key  store.Key
		want error
	}{
		{"same id", store.Key{ID: "k1", Name: "x", Scope: store.ScopeAdmin, Hash: []byte("hash-2"), CreatedBy: "alice"}, store.ErrConflict},
		{"same hash", store.Key{ID: "k2", Name: "x", Scope: store.ScopeAdmin, Hash: []byte("hash-1"), CreatedBy: "alice"}, store.ErrConflict},
		{"sdk key in an unknown environment", store.Key{ID: "k3", Name: "x", Scope: store.ScopeSDK, Env: "qa", Hash: []byte("hash-3"), CreatedBy: "alice"}, store.ErrInvalid},
		{"sdk key without environment", store.Key{ID: "k4", Name: "x", Scope: store.ScopeSDK, Hash: []byte("hash-4"), CreatedBy: "alice"}, store.ErrInvalid},
		{"unknown scope", store.Key{ID: "k5", Name: "x", Scope: "root", Hash: []byte("hash-5"), CreatedBy: "alice"}, store.ErrInvalid},
		{"no hash", store.Key{ID: "k6", Name: "x", Scope: store.ScopeAdmin, CreatedBy: "alice"}, store.ErrInvalid},
	}
	for _, tt := range tests {
		if err := s.CreateKey(ctx, tt.key); !errors.Is(err, tt.want) {
			t.Errorf("%s: CreateKey = %v, want %v", tt.name, err, tt.want)
		}
	}
	if keys, _ := s.Keys(ctx); len(keys) != 1 {
		t.Fatalf("%d keys after rejected creations, want 1", len(keys))
	}
	if n := len(mustAudit(t, s)); n != auditBefore {
		t.Fatalf("rejected key creations wrote %d audit entries", n-auditBefore)
	}
}

func notFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.History(ctx, store.KindFlag, "nope", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("History of a missing flag: %v, want ErrNotFound", err)
	}
	if _, err := s.KeyByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash(unknown): %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, "nope", "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeKey(unknown): %v, want ErrNotFound", err)
	}
	seed(t, s)
	if _, err := s.History(ctx, store.KindFlagState, "checkout", "staging"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("History of a state never set: %v, want ErrNotFound", err)
	}
	if _, err := s.Commit(ctx, changeset("segment.delete", store.Change{Kind: store.KindSegment, Key: "nope", ExpectedVersion: store.AnyVersion, Delete: true})); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a missing segment: %v, want ErrNotFound", err)
	}
	if entries, err := s.Audit(ctx, 100, 10); err != nil || len(entries) != 0 {
		t.Errorf("Audit past the end = %d entries, %v; want none", len(entries), err)
	}
}

func ping(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
