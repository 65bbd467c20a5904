package storetest

import (
	"context"
	"fmt"
	"testing"

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
