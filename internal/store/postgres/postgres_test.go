package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/postgres"
	"github.com/weirhq/weir/internal/store/storetest"
)

// testURL returns the database the tests may use, or skips.
func testURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("WEIR_TEST_POSTGRES_URL")
	if u == "" {
		tb.Skip("WEIR_TEST_POSTGRES_URL not set: skipping PostgreSQL conformance")
	}
	return u
}

// freshSchema creates a uniquely named schema, dropped when tb ends, and
// returns a URL whose search_path selects it, so parallel runs do not
// collide.
func freshSchema(tb testing.TB) (string, *pgx.Conn) {
	tb.Helper()
	base := testURL(tb)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to WEIR_TEST_POSTGRES_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "weir_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("WEIR_TEST_POSTGRES_URL must be a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), admin
}

func open(tb testing.TB, u string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), u)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		u, _ := freshSchema(t)
		return open(t, u)
	})
}

func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	u, admin := freshSchema(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), u)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
		}
	}
	migrations, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no migrations found (%v)", err)
	}
	schema, _ := url.Parse(u)
	var n int
	err = admin.QueryRow(context.Background(),
		"SELECT count(*) FROM "+schema.Query().Get("search_path")+".schema_migrations").Scan(&n)
	if err != nil || n != len(migrations) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d, one per migration", n, err, len(migrations))
	}
	open(t, u) // and a later start finds nothing to do
}

func TestAuditLogAndVersionsRejectRewrites(t *testing.T) {
	u, admin := freshSchema(t)
	s := open(t, u)
	ctx := context.Background()
	if _, err := s.Commit(ctx, &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
		{Kind: store.KindSegment, Key: "beta", Segment: &flagmodel.Segment{Key: "beta"}},
	}}); err != nil {
		t.Fatalf("setup: %v", err)
	}
	schema, _ := url.Parse(u)
	sp := schema.Query().Get("search_path")
	for _, stmt := range []string{
		"UPDATE " + sp + ".audit_log SET reason = 'x'",
		"DELETE FROM " + sp + ".audit_log",
		"TRUNCATE " + sp + ".audit_log",
		"UPDATE " + sp + ".versions SET actor = 'x'",
		"DELETE FROM " + sp + ".versions",
		"TRUNCATE " + sp + ".versions CASCADE",
	} {
		if _, err := admin.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only trigger to refuse", stmt, err)
		}
	}
	if entries, err := s.Audit(ctx, 0, 0); err != nil || len(entries) != 1 {
		t.Fatalf("audit after refused rewrites: %d entries, %v; want the 1 written", len(entries), err)
	}
}

func TestErrorsNeverShowTheURL(t *testing.T) {
	const secret = "s3cr3t-pw"
	for _, u := range []string{
		"postgres://weir:" + secret + "@127.0.0.1:1/weir?sslmode=disable&connect_timeout=2",
		"postgres://weir:" + secret + "@host:notaport/weir",
		"postgres://weir@127.0.0.1:1/weir?password=" + secret + "&connect_timeout=2",
	} {
		_, err := postgres.Open(context.Background(), u)
		if err == nil {
			t.Fatalf("Open(unreachable) succeeded")
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
		if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(unreachable) = %v, want ErrUnavailable or ErrInvalid", err)
		}
	}
}

func BenchmarkCommit1000Flags(b *testing.B) {
	u, _ := freshSchema(b)
	storetest.CommitFlags(b, open(b, u), 1000)
}

func BenchmarkLoad10000Flags(b *testing.B) {
	u, _ := freshSchema(b)
	storetest.LoadFlags(b, open(b, u), 10000)
}

func BenchmarkAppendEvents1000(b *testing.B) {
	u, _ := freshSchema(b)
	storetest.AppendEvents(b, open(b, u), 1, 1000)
}

func BenchmarkAppendEvents10x1000(b *testing.B) {
	u, _ := freshSchema(b)
	storetest.AppendEvents(b, open(b, u), 10, 1000)
}
