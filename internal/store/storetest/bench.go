package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// flagsChangeset creates n flags named prefix-i, each with a state in
// production.
func flagsChangeset(prefix string, n int) *store.Changeset {
	cs := &store.Changeset{Actor: "bench", Action: "apply", Changes: make([]store.Change, 0, 2*n)}
	for i := range n {
		key := fmt.Sprintf("%s-%05d", prefix, i)
		cs.Changes = append(cs.Changes, createFlag(key), setState(key, "production", 0, i%2 == 0))
	}
	return cs
}

func seedEnvironment(b *testing.B, s store.Store) {
	b.Helper()
	if _, err := s.Commit(context.Background(), &store.Changeset{Actor: "bench", Action: "apply",
		Changes: []store.Change{createEnv("production")}}); err != nil {
		b.Fatal(err)
	}
}

// CommitFlags measures one changeset creating n flags with a state each
// (2n changes) per iteration, on a store that grows as it runs.
func CommitFlags(b *testing.B, s store.Store, n int) {
	seedEnvironment(b, s)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		cs := flagsChangeset(fmt.Sprint("f", i), n)
		i++
		b.StartTimer()
		if _, err := s.Commit(ctx, cs); err != nil {
			b.Fatal(err)
		}
	}
}

// LoadFlags measures Load of a configuration of n flags with a state each.
func LoadFlags(b *testing.B, s store.Store, n int) {
	seedEnvironment(b, s)
	ctx := context.Background()
	for done := 0; done < n; done += 1000 {
		if _, err := s.Commit(ctx, flagsChangeset(fmt.Sprint("f", done), min(1000, n-done))); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		cfg, err := s.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Flags) != n {
			b.Fatalf("Load returned %d flags, want %d", len(cfg.Flags), n)
		}
	}
}

// eventBatches returns n batches of size events each for the environment
// production, shaped like an application's telemetry: 40% exposures (half
// of them in an experiment, a quarter in a guarded rollout) and 60% track
// events (half with a value, a third with properties), keys of realistic
// lengths, 16-byte unit tokens drawn from 50,000 units. Event times lie in
// the 10 seconds before the batch is received, as when many senders flush
// their buffers every few seconds.
func eventBatches(n, size int) []store.EventBatch {
	rng := rand.New(rand.NewPCG(1, 2))
	units := make([][]byte, 50000)
	for i := range units {
		units[i] = make([]byte, 16)
		for j := range units[i] {
			units[i][j] = byte(rng.Uint32())
		}
	}
	flags := []string{"checkout-redesign", "new-pricing-page", "search-ranking-v2", "dark-mode", "onboarding-checklist"}
	variants := []string{"control", "treatment", "treatment-b"}
	metrics := []string{"purchase-completed", "page-view", "add-to-cart", "signup", "checkout-latency-ms"}
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	batches := make([]store.EventBatch, n)
	for i := range batches {
		b := &batches[i]
		b.Env = "production"
		b.ReceivedAt = start
		for j := range size {
			at := start.Add(-time.Duration(rng.Int64N(int64(10 * time.Second))))
			unit := units[rng.IntN(len(units))]
			if j%5 < 2 {
				x := store.Exposure{Time: at, Unit: unit, Flag: flags[rng.IntN(len(flags))], Variant: variants[rng.IntN(len(variants))],
					FlagVersion: 1 + rng.Int64N(40), Reason: "SPLIT"}
				switch j % 4 {
				case 0, 1:
					x.Experiment = x.Flag + "-2026q2"
				case 2:
					x.Rollout = x.Flag + "-rollout"
				}
				b.Exposures = append(b.Exposures, x)
				continue
			}
			tr := store.Track{Time: at, Unit: unit, Name: metrics[rng.IntN(len(metrics))]}
			if j%2 == 0 {
				tr.Value, tr.HasValue = float64(rng.IntN(20000))/100, true
			}
			if j%3 == 0 {
				tr.Properties = json.RawMessage(`{"plan":"pro","country":"DE","platform":"web"}`)
			}
			b.Tracks = append(b.Tracks, tr)
		}
	}
	return batches
}

// AppendEvents measures AppendEvents of n batches of size events each per
// call, on a store whose event tables grow as it runs, and reports events
// stored per second. Each call's batches are received later than the last
// call's, as if 400,000 events arrived per second, and their events move
// with them.
func AppendEvents(b *testing.B, s store.Store, n, size int) {
	seedEnvironment(b, s)
	ctx := context.Background()
	batches := eventBatches(n, size)
	calls := 0
	step := time.Duration(n*size) * time.Second / 400000
	for b.Loop() {
		for i := range batches {
			bt := &batches[i]
			bt.ID = strconv.Itoa(calls*n + i)
			bt.ReceivedAt = bt.ReceivedAt.Add(step)
			for j := range bt.Exposures {
				bt.Exposures[j].Time = bt.Exposures[j].Time.Add(step)
			}
			for j := range bt.Tracks {
				bt.Tracks[j].Time = bt.Tracks[j].Time.Add(step)
			}
		}
		calls++
		dup, err := s.AppendEvents(ctx, batches)
		if err != nil {
			b.Fatal(err)
		}
		if dup[0] {
			b.Fatal("a new batch was reported as a duplicate")
		}
	}
	b.ReportMetric(float64(calls*n*size)/b.Elapsed().Seconds(), "events/s")
}
