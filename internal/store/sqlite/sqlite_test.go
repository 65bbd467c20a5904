package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
