package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/audit"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
	"github.com/weirhq/weir/internal/store/storetest"
)

func open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "weir.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func BenchmarkCommit1000Flags(b *testing.B) { storetest.CommitFlags(b, open(b), 1000) }

func BenchmarkLoad10000Flags(b *testing.B) { storetest.LoadFlags(b, open(b), 10000) }

func TestAuditLogAndVersionsRejectRewrites(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.Commit(ctx, &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
		{Kind: store.KindSegment, Key: "beta", Segment: &flagmodel.Segment{Key: "beta"}},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET reason = 'x'",
		"DELETE FROM audit_log",
		"UPDATE versions SET actor = 'x'",
		"DELETE FROM versions",
	} {
		if err := s.ExecForTest(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "immutable") {
			t.Errorf("%s: %v, want a trigger to refuse", stmt, err)
		}
	}
	if entries, err := s.Audit(ctx, 0, 0); err != nil || len(entries) != 1 {
		t.Fatalf("audit after refused rewrites: %d entries, %v; want the 1 written", len(entries), err)
	}
}

func TestReopeningKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "weir.db")
	for i := range 3 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		_, err = s.Commit(ctx, &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
			{Kind: store.KindEnvironment, Key: fmt.Sprint("env-", i), Environment: &flagmodel.Environment{Key: fmt.Sprint("env-", i)}},
		}})
		if err != nil {
			t.Fatalf("commit after open #%d: %v", i+1, err)
		}
		cfg, err := s.Load(ctx)
		if err != nil || len(cfg.Environments) != i+1 || cfg.AuditSeq != int64(i+1) {
			t.Fatalf("after open #%d: %d environments at audit seq %d (%v)", i+1, len(cfg.Environments), cfg.AuditSeq, err)
		}
		s.Close()
	}
}

// Two stores on one file stand for two processes: BEGIN IMMEDIATE and the
// busy timeout make their commits wait for each other instead of failing
// with SQLITE_BUSY.
func TestTwoProcessesOnOneFileSerializeCommits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "weir.db")
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("segment-", i)
			_, errs[i] = s.Commit(ctx, &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
				{Kind: store.KindSegment, Key: key, Segment: &flagmodel.Segment{Key: key}},
			}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	entries, err := a.Audit(ctx, 0, 0)
	if err != nil || len(entries) != writers {
		t.Fatalf("audit has %d entries (%v), want %d", len(entries), err, writers)
	}
	if err := audit.Verify(entries); err != nil {
		t.Fatalf("audit chain across two processes: %v", err)
	}
}

func TestOpenRejectsPathsThatAreNotFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:weir.db?mode=memory", "weir.db?_pragma=foreign_keys(0)"} {
		if _, err := sqlite.Open(context.Background(), path); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", path, err)
		}
	}
}

func BenchmarkAppendEvents1000(b *testing.B) { storetest.AppendEvents(b, open(b), 1, 1000) }

func BenchmarkAppendEvents10x1000(b *testing.B) { storetest.AppendEvents(b, open(b), 10, 1000) }
