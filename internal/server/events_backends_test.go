package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/postgres"
	"github.com/weirhq/weir/internal/store/sqlite"
)

// newEventFixtureOnStore builds an event fixture whose configuration and
// events both live in st, a real store.
func newEventFixtureOnStore(t *testing.T, st store.Store) *eventFixture {
	t.Helper()
	ctx := context.Background()
	cs := &store.Changeset{Actor: "test", Action: "bootstrap"}
	for _, e := range []flagmodel.Environment{{Key: "development"}, {Key: "production", PrivateAttributes: []string{"email"}, EventProperties: []string{"plan"}}} {
		cs.Changes = append(cs.Changes, store.Change{Kind: store.KindEnvironment, Key: e.Key, Environment: &e})
	}
	if _, err := st.Commit(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(ctx, store.Key{ID: "k1", Name: "tests", Scope: store.ScopeAdmin, Hash: auth.Hash(adminToken), CreatedBy: "test", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, err := ingest.New(ingest.Options{Store: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st, Intake: p, EventStats: st, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.StopStreams()
		ts.Close()
		_ = p.Stop(context.Background())
	})
	f := &eventFixture{fixture: &fixture{t: t, srv: srv, ts: ts}, pipeline: p}
	f.prodKey, f.devKey = f.sdkKey("production"), f.sdkKey("development")
	return f
}

// TestTheIntakeStoresOnEveryBackend runs the intake's main path on the
// real stores: SQLite always, PostgreSQL when WEIR_TEST_POSTGRES_URL is
// set. A batch is stored once, its retry is a duplicate, properties are
// filtered, and the stats count what was stored.
func TestTheIntakeStoresOnEveryBackend(t *testing.T) {
	backends := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "weir.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	if u := os.Getenv("WEIR_TEST_POSTGRES_URL"); u != "" {
		backends["postgres"] = func(t *testing.T) store.Store { return freshPostgres(t, u) }
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			f := newEventFixtureOnStore(t, open(t))
			for i, dup := range []bool{false, true} {
				r := f.postEvents(gzipped(t, eventBatch("b-1", 6)), "X-API-Key", f.prodKey, "Content-Encoding", "gzip")
				if r.status != http.StatusAccepted || r.body["duplicate"] != dup || r.body["droppedProperties"] != 6.0 {
					t.Fatalf("post %d: %d %s, want 202 with duplicate %v and 6 dropped properties", i, r.status, r.raw, dup)
				}
			}
			if r := f.postEvents([]byte(eventBatch("b-1", 6)), "X-API-Key", f.devKey); r.status != http.StatusAccepted || r.body["duplicate"] != false {
				t.Fatalf("the same id in development: %d %s, want a new batch", r.status, r.raw)
			}
			code, st := f.do("GET", "/api/v1/environments/production/events/stats?window=1h", "")
			if code != http.StatusOK || st["exposures"] != 3.0 || st["tracks"] != 3.0 || st["batches"] != 1.0 {
				t.Fatalf("stats %d %v, want 3 exposures, 3 track events, 1 batch", code, st)
			}
			metrics := st["metrics"].([]any)
			if len(metrics) != 1 || metrics[0].(map[string]any)["sum"] != 7.5 || metrics[0].(map[string]any)["withValue"] != 3.0 {
				t.Errorf("metrics %v, want purchase with 3 values summing to 7.5", metrics)
			}
			flags := st["flags"].([]any)
			if len(flags) != 1 || flags[0].(map[string]any)["experiment"] != "checkout-test" {
				t.Errorf("flags %v", flags)
			}
		})
	}
}

// freshPostgres opens a store on a new schema of the database at u,
// dropped when the test ends.
func freshPostgres(t *testing.T, u string) store.Store {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to WEIR_TEST_POSTGRES_URL: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "weir_intake_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal("WEIR_TEST_POSTGRES_URL must be a URL")
	}
	q := parsed.Query()
	q.Set("search_path", schema)
	parsed.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, parsed.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	return st
}
