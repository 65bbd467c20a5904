package sdk_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/sdk"
)

const intakeKey = "weir_sdk_events-test-key"

// experimentFlags is the production flags file the fake intake's snapshot
// carries (JSON, as the server sends it).
//   - checkout: a 50/50 split on the targeting key serving experiment
//     checkout-test, after a rule serving staff "on".
//   - banner: a split by accountId serving guarded rollout banner-rollout.
//   - plain: a split serving no experiment.
const experimentFlags = `{
 "environments": [%s],
 "flags": [
  {"key": "checkout", "type": "boolean", "variants": {"on": true, "off": false},
   "environments": {"production": {"enabled": true,
     "rules": [{"id": "staff", "when": [{"attribute": "staff", "op": "in", "values": [true]}], "serve": {"variant": "on"}}],
     "default": {"split": {"on": 50, "off": 50}, "experiment": "checkout-test"}}}},
  {"key": "banner", "type": "string", "variants": {"a": "A", "b": "B"},
   "environments": {"production": {"enabled": true,
     "default": {"split": {"a": 50, "b": 50}, "bucketBy": "accountId", "rollout": "banner-rollout"}}}},
  {"key": "plain", "type": "boolean", "variants": {"on": true, "off": false},
   "environments": {"production": {"enabled": true, "default": {"split": {"on": 50, "off": 50}}}}}
 ]}`

// withAllowList is the production environment with email private and an
// allow-list of track properties; withoutAllowList has none, as an
// environment that declares no eventProperties.
const (
	withAllowList    = `{"key": "production", "privateAttributes": ["email"], "eventProperties": ["plan", "amount"]}`
	withoutAllowList = `{"key": "production", "privateAttributes": ["email"]}`
)

// snapshotOf wraps experimentFlags with environment env in a snapshot
// document at version v, where every flag state has version flagVersion.
func snapshotOf(env string, v, flagVersion int64) string {
	return fmt.Sprintf(`{"environment": "production", "version": %d, "file": %s,
 "flagVersions": {"checkout": %d, "banner": %d, "plain": %d}}`,
		v, fmt.Sprintf(experimentFlags, env), flagVersion, flagVersion, flagVersion)
}

// lostAnswer, returned by an intake's answer function, stores the batch
// and then drops the connection, as a crash after the commit would.
const lostAnswer = -1

// post is one request the intake received.
type post struct {
	at      time.Time
	batch   *event.Batch
	status  int
	encoded string // Content-Encoding
}

// intake is a fake Weir server: it serves a snapshot of experimentFlags
// and stores event batches as the real intake does — once per id — after
// checking that they decode strictly and validate. answer, when set,
// decides each answer (the nth request from 0); nil answers 202.
type intake struct {
	t  testing.TB
	ts *httptest.Server

	mu       sync.Mutex
	snapshot string
	posts    []post
	stored   map[string]*event.Batch
	order    []string // ids in the order they were stored
	answer   func(n int, b *event.Batch, w http.ResponseWriter) int
}

func newIntake(t testing.TB) *intake {
	in := &intake{t: t, snapshot: snapshotOf(withAllowList, 10, 3), stored: map[string]*event.Batch{}}
	in.ts = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.ts.Close)
	return in
}

func (in *intake) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+intakeKey {
		http.Error(w, "unknown key", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/sdk/v1/snapshot":
		in.mu.Lock()
		doc := in.snapshot
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	case r.Method == http.MethodPost && r.URL.Path == "/events/v1/batch":
		in.receive(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (in *intake) receive(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		in.t.Errorf("Content-Type %q, want application/json", ct)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		in.t.Errorf("the body is not gzip: %v", err)
		http.Error(w, "not gzip", http.StatusBadRequest)
		return
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		in.t.Errorf("read the gzip body: %v", err)
		return
	}
	b, err := event.Decode(bytes.NewReader(raw), event.DefaultLimits())
	if err == nil {
		err = event.Validate(b, time.Now(), event.DefaultLimits())
	}
	if err != nil {
		in.t.Errorf("the SDK sent an invalid batch: %v\n%s", err, raw)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	n := len(in.posts)
	answer := in.answer
	in.mu.Unlock()
	status := http.StatusAccepted
	if answer != nil {
		status = answer(n, b, w)
	}
	in.mu.Lock()
	in.posts = append(in.posts, post{at: at, batch: b, status: status, encoded: r.Header.Get("Content-Encoding")})
	duplicate := false
	if status == http.StatusAccepted || status == lostAnswer {
		if _, duplicate = in.stored[b.ID]; !duplicate {
			in.stored[b.ID] = b
			in.order = append(in.order, b.ID)
		}
	}
	in.mu.Unlock()
	if status == lostAnswer {
		panic(http.ErrAbortHandler) // the connection drops before the answer
	}
	if status == http.StatusAccepted {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"accepted": len(b.Events), "duplicate": duplicate})
	}
	// Other answers were written by answer.
}

func (in *intake) setSnapshot(doc string) {
	in.mu.Lock()
	in.snapshot = doc
	in.mu.Unlock()
}

func (in *intake) setAnswer(fn func(n int, b *event.Batch, w http.ResponseWriter) int) {
	in.mu.Lock()
	in.answer = fn
	in.mu.Unlock()
}

// events returns the stored events in the order their batches were stored.
func (in *intake) events() []event.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []event.Event
	for _, id := range in.order {
		out = append(out, in.stored[id].Events...)
	}
	return out
}

// exposures returns the stored exposures as "unit flag variant version"
// lines, sorted.
func (in *intake) exposures() []string {
	var out []string
	for _, e := range in.events() {
		if e.Kind == event.KindExposure {
			out = append(out, fmt.Sprintf("%s %s %s %d", e.Unit, e.Flag, e.Variant, e.FlagVersion))
		}
	}
	sort.Strings(out)
	return out
}

// droppedReported sums the dropped counts of the stored batches.
func (in *intake) droppedReported() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var n int64
	for _, id := range in.order {
		n += in.stored[id].Dropped
	}
	return n
}

func (in *intake) postsSoFar() []post {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]post(nil), in.posts...)
}

// client returns a client of the intake's environment that polls often,
// retries fast and flushes every 10 ms, unless opts say otherwise.
func (in *intake) client(t testing.TB, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	all := append([]sdk.Option{
		sdk.WithBaseURL(in.ts.URL),
		sdk.WithPolling(20 * time.Millisecond),
		sdk.WithInitTimeout(5 * time.Second),
		sdk.WithBackoff(5*time.Millisecond, 20*time.Millisecond),
		sdk.WithEventFlushInterval(10 * time.Millisecond),
	}, opts...)
	c := newClient(t, intakeKey, all...)
	if c.Status() != sdk.StatusReady {
		t.Fatalf("status %v, want READY", c.Status())
	}
	return c
}

// closeClient closes c within five seconds.
func closeClient(t testing.TB, c *sdk.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkBalance asserts that every recorded event was accounted for.
func checkBalance(t testing.TB, s sdk.EventStats) {
	t.Helper()
	if s.Recorded != s.Sent+s.Rejected+s.Dropped+s.Pending {
		t.Errorf("stats %+v: recorded is not sent + rejected + dropped + pending", s)
	}
}

func user(key string) *eval.Context { return &eval.Context{TargetingKey: key} }
