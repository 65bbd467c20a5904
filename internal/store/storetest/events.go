package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// eventTests are the rules of store.EventStore.
var eventTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"event batches are stored and counted, without audit entries", eventsAreStoredAndCounted},
	{"a retried batch is stored once", retriedBatchIsStoredOnce},
	{"the same batch id in two environments names two batches", batchIDsArePerEnvironment},
	{"of concurrent appends of one batch exactly one stores it", concurrentAppendsStoreOnce},
	{"concurrent appends of the same batches in any order all succeed", concurrentAppendsInAnyOrder},
	{"an append that fails writes nothing", failedAppendWritesNothing},
	{"statistics count exactly the events in [from, to)", statsCountTheWindow},
	{"events of one environment never show in another", eventsStayInTheirEnvironment},
	{"deleting old events removes exactly them, in chunks", deleteRemovesOldEventsInChunks},
	{"a unit token key is created once per environment", unitTokenKeys},
}

// t0 is the start of the hour the event tests happen in.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func unit(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 16) }

func exposure(at time.Time, n int, flag, variant, experiment, rollout string) store.Exposure {
	return store.Exposure{Time: at, Unit: unit(n), Flag: flag, Variant: variant, FlagVersion: 3, Reason: "SPLIT",
		Experiment: experiment, Rollout: rollout}
}

func track(at time.Time, n int, name string, value ...float64) store.Track {
	tr := store.Track{Time: at, Unit: unit(n), Name: name}
	if len(value) > 0 {
		tr.Value, tr.HasValue = value[0], true
		tr.Properties = json.RawMessage(`{"plan":"pro"}`)
	}
	return tr
}

func mustAppend(t *testing.T, s store.Store, batches ...store.EventBatch) []bool {
	t.Helper()
	dup, err := s.AppendEvents(context.Background(), batches)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	if len(dup) != len(batches) {
		t.Fatalf("AppendEvents reported %d duplicates flags for %d batches", len(dup), len(batches))
	}
	return dup
}

func mustStats(t *testing.T, s store.Store, env string, from, to time.Time) store.EventStats {
	t.Helper()
	st, err := s.EventStats(context.Background(), env, from, to)
	if err != nil {
		t.Fatalf("EventStats(%s): %v", env, err)
	}
	return st
}

// allTime is a window holding every event of the tests.
func allTime(t *testing.T, s store.Store, env string) store.EventStats {
	t.Helper()
	return mustStats(t, s, env, t0.Add(-24*time.Hour), t0.Add(24*time.Hour))
}

// checkout is a batch of three exposures and three track events in
// production, received at t0 + 1 minute.
func checkout(id string) store.EventBatch {
	return store.EventBatch{Env: "production", ID: id, ReceivedAt: t0.Add(time.Minute), Dropped: 2,
		Exposures: []store.Exposure{
			exposure(t0, 1, "checkout", "on", "checkout-exp", ""),
			exposure(t0.Add(time.Second), 2, "checkout", "off", "checkout-exp", ""),
			exposure(t0.Add(2*time.Second), 3, "checkout", "on", "checkout-exp", ""),
		},
		Tracks: []store.Track{
			track(t0.Add(3*time.Second), 1, "purchase", 12.5),
			track(t0.Add(4*time.Second), 2, "purchase"),
			track(t0.Add(5*time.Second), 3, "page-view"),
		},
	}
}

func sameStats(t *testing.T, what string, got, want store.EventStats) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// checkoutStats is what n distinct copies of checkout add up to.
func checkoutStats(n int64) store.EventStats {
	return store.EventStats{
		Exposures: 3 * n, Tracks: 3 * n, Batches: n, Dropped: 2 * n,
		Flags: []store.FlagVariantCount{
			{Flag: "checkout", Variant: "off", Experiment: "checkout-exp", Exposures: n},
			{Flag: "checkout", Variant: "on", Experiment: "checkout-exp", Exposures: 2 * n},
		},
		Metrics: []store.MetricCount{
			{Name: "page-view", Events: n},
			{Name: "purchase", Events: 2 * n, WithValue: n, Sum: 12.5 * float64(n)},
		},
		LastEvent: t0.Add(5 * time.Second),
	}
}

func eventsAreStoredAndCounted(t *testing.T, s store.Store) {
	seed(t, s)
	auditBefore := len(mustAudit(t, s))
	if dup := mustAppend(t, s, checkout("b1"), checkout("b2")); !reflect.DeepEqual(dup, []bool{false, false}) {
		t.Fatalf("two new batches: dup = %v, want [false false]", dup)
	}
	sameStats(t, "two batches", allTime(t, s, "production"), checkoutStats(2))
	if n := len(mustAudit(t, s)); n != auditBefore {
		t.Errorf("appending events wrote %d audit entries, want none", n-auditBefore)
	}
	if dup, err := s.AppendEvents(context.Background(), nil); err != nil || len(dup) != 0 {
		t.Errorf("AppendEvents(nil) = %v, %v; want nothing", dup, err)
	}
	empty := store.EventBatch{Env: "production", ID: "only-dropped", ReceivedAt: t0, Dropped: 7}
	mustAppend(t, s, empty)
	want := checkoutStats(2)
	want.Batches, want.Dropped = 3, 11
	sameStats(t, "a batch with no events but a dropped count", allTime(t, s, "production"), want)
}

func retriedBatchIsStoredOnce(t *testing.T, s store.Store) {
	seed(t, s)
	mustAppend(t, s, checkout("b1"))
	if dup := mustAppend(t, s, checkout("b1"), checkout("b2")); !reflect.DeepEqual(dup, []bool{true, false}) {
		t.Fatalf("a retried batch with a new one: dup = %v, want [true false]", dup)
	}
	if dup := mustAppend(t, s, checkout("b3"), checkout("b3"), checkout("b1")); !reflect.DeepEqual(dup, []bool{false, true, true}) {
		t.Fatalf("two copies of a new batch and an old one: dup = %v, want [false true true]", dup)
	}
	sameStats(t, "three batches sent six times", allTime(t, s, "production"), checkoutStats(3))

	// The first copy is the one stored.
	first, second := checkout("b4"), checkout("b4")
	second.Exposures, second.Tracks, second.Dropped = nil, nil, 100
	mustAppend(t, s, first, second)
	sameStats(t, "two different batches with one id", allTime(t, s, "production"), checkoutStats(4))
}

func batchIDsArePerEnvironment(t *testing.T, s store.Store) {
	seed(t, s)
	staging := checkout("b1")
	staging.Env = "staging"
	if dup := mustAppend(t, s, checkout("b1"), staging); !reflect.DeepEqual(dup, []bool{false, false}) {
		t.Fatalf("one id in two environments: dup = %v, want [false false]", dup)
	}
	sameStats(t, "production", allTime(t, s, "production"), checkoutStats(1))
	sameStats(t, "staging", allTime(t, s, "staging"), checkoutStats(1))
}

func concurrentAppendsStoreOnce(t *testing.T, s store.Store) {
	seed(t, s)
	const senders = 8
	var wg sync.WaitGroup
	dups := make([][]bool, senders)
	errs := make([]error, senders)
	start := make(chan struct{})
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			dups[i], errs[i] = s.AppendEvents(context.Background(), []store.EventBatch{checkout("b1")})
		}()
	}
	close(start)
	wg.Wait()
	stored := 0
	for i := range senders {
		if errs[i] != nil {
			t.Fatalf("sender %d: %v", i, errs[i])
		}
		if !dups[i][0] {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d concurrent appends of one batch stored it, want exactly 1", stored)
	}
	sameStats(t, "one batch sent concurrently", allTime(t, s, "production"), checkoutStats(1))
}

func concurrentAppendsInAnyOrder(t *testing.T, s store.Store) {
	seed(t, s)
	const rounds = 20
	for r := range rounds {
		a, b := checkout(fmt.Sprint("a", r)), checkout(fmt.Sprint("b", r))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, order := range [][]store.EventBatch{{a, b}, {b, a}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.AppendEvents(context.Background(), order)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, sender %d: %v", r, i, err)
			}
		}
	}
	sameStats(t, "two batches per round, each sent twice", allTime(t, s, "production"), checkoutStats(2*rounds))
}

func failedAppendWritesNothing(t *testing.T, s store.Store) {
	seed(t, s)
	modify := func(fn func(b *store.EventBatch)) store.EventBatch {
		b := checkout("bad")
		fn(&b)
		return b
	}
	tests := []struct {
		name  string
		batch store.EventBatch
		want  error
	}{
		{"a batch for an unknown environment", modify(func(b *store.EventBatch) { b.Env = "qa" }), store.ErrInvalid},
		{"a batch without environment", modify(func(b *store.EventBatch) { b.Env = "" }), store.ErrInvalid},
		{"a batch without id", modify(func(b *store.EventBatch) { b.ID = "" }), store.ErrInvalid},
		{"a batch without time received", modify(func(b *store.EventBatch) { b.ReceivedAt = time.Time{} }), store.ErrInvalid},
		{"an exposure without unit", modify(func(b *store.EventBatch) { b.Exposures[2].Unit = nil }), store.ErrInvalid},
		{"an exposure without flag", modify(func(b *store.EventBatch) { b.Exposures[0].Flag = "" }), store.ErrInvalid},
		{"an exposure without time", modify(func(b *store.EventBatch) { b.Exposures[1].Time = time.Time{} }), store.ErrInvalid},
		{"a track event without name", modify(func(b *store.EventBatch) { b.Tracks[0].Name = "" }), store.ErrInvalid},
		{"a value that is not a number", modify(func(b *store.EventBatch) { b.Tracks[0].Value = math.NaN() }), store.ErrInvalid},
		{"an infinite value", modify(func(b *store.EventBatch) { b.Tracks[0].Value = math.Inf(1) }), store.ErrInvalid},
		{"properties that are not an object", modify(func(b *store.EventBatch) { b.Tracks[0].Properties = json.RawMessage(`[1]`) }), store.ErrInvalid},
		{"properties that are not JSON", modify(func(b *store.EventBatch) { b.Tracks[0].Properties = json.RawMessage(`{"a":`) }), store.ErrInvalid},
		{"properties holding a NUL", modify(func(b *store.EventBatch) { b.Tracks[0].Properties = json.RawMessage(`{"a":"\u0000"}`) }), store.ErrInvalid},
		{"a flag that is not UTF-8", modify(func(b *store.EventBatch) { b.Exposures[1].Flag = "check\xffout" }), store.ErrInvalid},
		{"a name holding a NUL", modify(func(b *store.EventBatch) { b.Tracks[2].Name = "page\x00view" }), store.ErrInvalid},
		{"an id that is not UTF-8", modify(func(b *store.EventBatch) { b.ID = "\xc3" }), store.ErrInvalid},
	}
	for _, tt := range tests {
		// The good batch comes first: it must not be stored either.
		_, err := s.AppendEvents(context.Background(), []store.EventBatch{checkout("good"), tt.batch})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: AppendEvents = %v, want %v", tt.name, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AppendEvents(ctx, []store.EventBatch{checkout("good")}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: AppendEvents = %v, want context.Canceled", err)
	}
	sameStats(t, "after failed appends", allTime(t, s, "production"), store.EventStats{})
	if dup := mustAppend(t, s, checkout("good")); dup[0] {
		t.Fatalf("the batch of the failed appends is reported as stored already")
	}
}

func statsCountTheWindow(t *testing.T, s store.Store) {
	seed(t, s)
	// Events on both sides of minute boundaries and of the window
	// [t0 + 1 min, t0 + 3 min), which the minute buckets must not blur.
	from, to := t0.Add(time.Minute), t0.Add(3*time.Minute)
	us := time.Microsecond
	mustAppend(t, s,
		store.EventBatch{Env: "production", ID: "early", ReceivedAt: from.Add(-us), Dropped: 1,
			Exposures: []store.Exposure{
				exposure(from.Add(-us), 1, "checkout", "on", "exp", ""),          // out
				exposure(from, 2, "checkout", "on", "exp", ""),                   // in
				exposure(from.Add(59*time.Second), 3, "checkout", "off", "", ""), // in
				exposure(from.Add(time.Minute), 4, "checkout", "on", "", "roll"), // in
			},
			Tracks: []store.Track{
				track(from.Add(-time.Minute), 1, "purchase", 1000), // out
				track(from, 2, "purchase", 1.25),                   // in
				track(from.Add(30*time.Second), 3, "purchase"),     // in
			},
		},
		store.EventBatch{Env: "production", ID: "late", ReceivedAt: to.Add(-us), Dropped: 4,
			Exposures: []store.Exposure{
				exposure(to.Add(-us), 5, "checkout", "on", "exp", ""), // in
				exposure(to, 6, "checkout", "on", "exp", ""),          // out
				exposure(to.Add(-us), 7, "banner", "blue", "", ""),    // in
			},
			Tracks: []store.Track{
				track(to.Add(-us), 4, "purchase", 2.5),   // in
				track(to.Add(-2*us), 5, "signup", -1),    // in
				track(to, 6, "purchase", 7),              // out
				track(to.Add(time.Hour), 7, "signup", 1), // out
			},
		},
		store.EventBatch{Env: "production", ID: "next", ReceivedAt: to, Dropped: 8},
	)
	want := store.EventStats{
		// Only the batch "late" was received in the window.
		Exposures: 5, Tracks: 4, Batches: 1, Dropped: 4,
		Flags: []store.FlagVariantCount{
			{Flag: "banner", Variant: "blue", Exposures: 1},
			{Flag: "checkout", Variant: "off", Exposures: 1},
			{Flag: "checkout", Variant: "on", Rollout: "roll", Exposures: 1},
			{Flag: "checkout", Variant: "on", Experiment: "exp", Exposures: 2},
		},
		Metrics: []store.MetricCount{
			{Name: "purchase", Events: 3, WithValue: 2, Sum: 3.75},
			{Name: "signup", Events: 1, WithValue: 1, Sum: -1},
		},
		LastEvent: to.Add(-us),
	}
	sameStats(t, "the window", mustStats(t, s, "production", from, to), want)
	sameStats(t, "an empty window", mustStats(t, s, "production", to.Add(2*time.Hour), to.Add(3*time.Hour)), store.EventStats{})
	sameStats(t, "a reversed window", mustStats(t, s, "production", to, from), store.EventStats{})
	got := mustStats(t, s, "production", to.Add(time.Hour), to.Add(time.Hour+us))
	sameStats(t, "a one-microsecond window", got, store.EventStats{Tracks: 1,
		Metrics: []store.MetricCount{{Name: "signup", Events: 1, WithValue: 1, Sum: 1}}, LastEvent: to.Add(time.Hour)})
}

func eventsStayInTheirEnvironment(t *testing.T, s store.Store) {
	seed(t, s)
	mustAppend(t, s, checkout("b1"))
	sameStats(t, "staging, after production's events", allTime(t, s, "staging"), store.EventStats{})
	ctx := context.Background()
	if n, err := s.DeleteEventsBefore(ctx, "staging", t0.Add(time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("DeleteEventsBefore(staging) = %d, %v; want 0 rows", n, err)
	}
	sameStats(t, "production, after deleting staging's events", allTime(t, s, "production"), checkoutStats(1))
	if st := allTime(t, s, "qa"); !reflect.DeepEqual(st, store.EventStats{}) {
		t.Fatalf("an unknown environment: %+v, want zero statistics", st)
	}
}

func deleteRemovesOldEventsInChunks(t *testing.T, s store.Store) {
	seed(t, s)
	ctx := context.Background()
	cutoff := t0.Add(30 * time.Second)
	// Old events fall in flags and metrics that also have new ones, in
	// the minute of the cutoff and before it.
	var batches []store.EventBatch
	oldEvents := 0
	for i := range 5 {
		b := store.EventBatch{Env: "production", ID: fmt.Sprint("old-", i), ReceivedAt: cutoff.Add(-time.Duration(5-i) * time.Hour)}
		for j := range 3 {
			at := cutoff.Add(-time.Duration(i*3+j+1) * 7 * time.Minute / 3)
			b.Exposures = append(b.Exposures, exposure(at, j, fmt.Sprint("flag-", j), "on", "", ""))
			b.Tracks = append(b.Tracks, track(at, j, fmt.Sprint("metric-", j%2), 1))
			oldEvents += 2
		}
		batches = append(batches, b)
	}
	edge := store.EventBatch{Env: "production", ID: "edge", ReceivedAt: cutoff,
		Exposures: []store.Exposure{
			exposure(cutoff.Add(-time.Microsecond), 1, "flag-1", "on", "", ""),
			exposure(cutoff, 1, "flag-1", "on", "", ""),
		},
		Tracks: []store.Track{
			track(cutoff.Add(-time.Microsecond), 1, "metric-1"),
			track(cutoff, 1, "metric-1"),
			track(cutoff.Add(time.Second), 1, "metric-9"),
		},
	}
	oldEvents += 2
	staging := checkout("in-staging")
	staging.Env = "staging"
	staging.ReceivedAt = t0.Add(-48 * time.Hour)
	mustAppend(t, s, append(batches, edge, staging)...)

	const limit = 4
	oldRows := int64(oldEvents + len(batches)) // and their batch records
	var total int64
	calls := 0
	for {
		n, err := s.DeleteEventsBefore(ctx, "production", cutoff, limit)
		if err != nil {
			t.Fatalf("DeleteEventsBefore: %v", err)
		}
		if n > limit {
			t.Fatalf("one call deleted %d rows, limit %d", n, limit)
		}
		total += n
		calls++
		if n < limit {
			break
		}
		if calls > 100 {
			t.Fatalf("DeleteEventsBefore keeps deleting: %d rows in %d calls", total, calls)
		}
	}
	if total != oldRows || calls != int(oldRows/limit)+1 {
		t.Fatalf("deleted %d rows in %d calls, want %d rows in %d calls", total, calls, oldRows, oldRows/limit+1)
	}
	want := store.EventStats{Exposures: 1, Tracks: 2, Batches: 1,
		Flags:     []store.FlagVariantCount{{Flag: "flag-1", Variant: "on", Exposures: 1}},
		Metrics:   []store.MetricCount{{Name: "metric-1", Events: 1}, {Name: "metric-9", Events: 1}},
		LastEvent: cutoff.Add(time.Second),
	}
	sameStats(t, "after deleting the old events", allTime(t, s, "production"), want)
	sameStats(t, "staging, untouched", mustStats(t, s, "staging", t0.Add(-72*time.Hour), t0.Add(time.Hour)), checkoutStats(1))
	if n, err := s.DeleteEventsBefore(ctx, "production", cutoff, limit); err != nil || n != 0 {
		t.Fatalf("deleting again = %d, %v; want nothing left to delete", n, err)
	}
	for _, limit := range []int{0, -1} {
		if _, err := s.DeleteEventsBefore(ctx, "production", cutoff, limit); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DeleteEventsBefore(limit %d) = %v, want ErrInvalid", limit, err)
		}
	}
}

func unitTokenKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	seed(t, s)
	auditBefore := len(mustAudit(t, s))
	const callers = 8
	var wg sync.WaitGroup
	keys := make([][]byte, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys[i], errs[i] = s.UnitTokenKey(ctx, "production")
		}()
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("concurrent first calls got keys %x and %x, want one 32-byte key", keys[0], keys[i])
		}
	}
	if bytes.Equal(keys[0], make([]byte, 32)) {
		t.Fatalf("the key is all zeros")
	}
	again, err := s.UnitTokenKey(ctx, "production")
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("a later call: %x, %v; want the same key %x", again, err, keys[0])
	}
	staging, err := s.UnitTokenKey(ctx, "staging")
	if err != nil || len(staging) != 32 || bytes.Equal(staging, keys[0]) {
		t.Fatalf("staging's key %x (%v), want a different 32-byte key than production's %x", staging, err, keys[0])
	}
	if _, err := s.UnitTokenKey(ctx, "qa"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown environment: %v, want ErrNotFound", err)
	}
	if n := len(mustAudit(t, s)); n != auditBefore {
		t.Errorf("creating unit token keys wrote %d audit entries, want none", n-auditBefore)
	}
	mustCommit(t, s, changeset("flag.delete", store.Change{Kind: store.KindFlagState, Key: "checkout", Env: "production",
		ExpectedVersion: store.AnyVersion, Delete: true}))
	mustCommit(t, s, changeset("environment.delete", store.Change{Kind: store.KindEnvironment, Key: "production",
		ExpectedVersion: store.AnyVersion, Delete: true}))
	if _, err := s.UnitTokenKey(ctx, "production"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted environment: %v, want ErrNotFound", err)
	}
	if _, err := s.AppendEvents(ctx, []store.EventBatch{checkout("b1")}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("events for a deleted environment: %v, want ErrInvalid", err)
	}
	mustCommit(t, s, changeset("environment.create", createEnv("production")))
	if k, err := s.UnitTokenKey(ctx, "production"); err != nil || !bytes.Equal(k, keys[0]) {
		t.Errorf("the re-created environment's key: %x, %v; want the old one %x", k, err, keys[0])
	}
}
