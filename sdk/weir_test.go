package sdk_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
	"github.com/weirhq/weir/sdk"
)

const adminToken = "weir_admin_test-token-for-the-sdk-tests"

// weir is a real Weir server (handler, SQLite store) on 127.0.0.1.
type weir struct {
	t   testing.TB
	st  *sqlite.Store
	srv *server.Server
	ts  *httptest.Server
}

// startWeir serves the database at dbPath on addr ("" for any port),
// creating the environments and an admin token on a new database.
func startWeir(t testing.TB, dbPath, addr string) *weir {
	t.Helper()
	w := openWeir(t, dbPath)
	w.listen(addr)
	return w
}

// openWeir opens the database and builds the server without listening.
func openWeir(t testing.TB, dbPath string) *weir {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Environments) == 0 {
		cs := &store.Changeset{Actor: "test", Action: "bootstrap"}
		for _, e := range []string{"development", "production"} {
			env := flagmodel.Environment{Key: e}
			cs.Changes = append(cs.Changes, store.Change{Kind: store.KindEnvironment, Key: e, Environment: &env})
		}
		if _, err := st.Commit(ctx, cs); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, store.Key{ID: "admin", Name: "tests", Scope: store.ScopeAdmin, Hash: auth.Hash(adminToken), CreatedBy: "test", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Options{Store: st, SDKHeartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	w := &weir{t: t, st: st, srv: srv}
	t.Cleanup(w.kill)
	return w
}

func (w *weir) listen(addr string) {
	w.t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port of a killed server may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.ts = httptest.NewUnstartedServer(w.srv.Handler())
	w.ts.Listener.Close()
	w.ts.Listener = ln
	w.ts.Start()
}

func (w *weir) url() string  { return w.ts.URL }
func (w *weir) addr() string { return w.ts.Listener.Addr().String() }

// kill drops every connection at once, as a crash would, and closes the
// database.
func (w *weir) kill() {
	if w.ts != nil {
		w.ts.CloseClientConnections()
		w.srv.StopStreams()
		w.ts.Close()
		w.ts = nil
	}
	if w.st != nil {
		w.st.Close()
		w.st = nil
	}
}

// admin sends an admin request through the handler (it works whether or
// not the server is listening).
func (w *weir) admin(method, path, body string) map[string]any {
	w.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec := httptest.NewRecorder()
	w.srv.Handler().ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code >= 300 {
		w.t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
	return out
}

func (w *weir) apply(doc string) { w.t.Helper(); w.admin("POST", "/api/v1/apply?reason=test", doc) }

func (w *weir) sdkKey(env string) string {
	w.t.Helper()
	return w.admin("POST", "/api/v1/keys", `{"scope":"sdk","env":"`+env+`","name":"app"}`)["secret"].(string)
}

func (w *weir) toggle(flag, env string, on bool) {
	w.t.Helper()
	action := "disable"
	if on {
		action = "enable"
	}
	w.admin("POST", "/api/v1/flags/"+flag+"/environments/"+env+"/"+action, `{"reason":"test"}`)
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "weir.db") }

// fastOptions keep reconnections and timeouts short enough for tests.
func fastOptions(w *weir) []sdk.Option {
	return []sdk.Option{
		sdk.WithBaseURL(w.url()),
		sdk.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		sdk.WithStreamTimeout(time.Second),
		sdk.WithPollingFallback(1000, 50*time.Millisecond),
	}
}

// eventually polls cond for up to 5 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newClient(t testing.TB, key string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.New(context.Background(), key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// drain reads a body to its end (helper for fake servers).
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }

var _ = http.StatusOK
