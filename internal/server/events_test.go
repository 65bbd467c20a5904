package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
)

// memEvents is an in-memory event store with the contract's semantics:
// a batch is stored once per (environment, id), and a failed call stores
// nothing. gate, when set, holds AppendEvents until it is closed.
type memEvents struct {
	mu      sync.Mutex
	batches []store.EventBatch
	ids     map[string]bool
	keys    map[string][]byte
	gate    chan struct{}
}

func newMemEvents() *memEvents {
	return &memEvents{ids: map[string]bool{}, keys: map[string][]byte{}}
}

func (m *memEvents) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dup := make([]bool, len(batches))
	for i, b := range batches {
		if m.ids[b.Env+"/"+b.ID] {
			dup[i] = true
			continue
		}
		m.ids[b.Env+"/"+b.ID] = true
		m.batches = append(m.batches, b)
	}
	return dup, nil
}

func (m *memEvents) UnitTokenKey(ctx context.Context, env string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[env]; ok {
		return k, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	m.keys[env] = k
	return k, nil
}

func (m *memEvents) EventStats(ctx context.Context, env string, from, to time.Time) (store.EventStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st store.EventStats
	flags := map[[4]string]int64{}
	metrics := map[string]*store.MetricCount{}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	for _, b := range m.batches {
		if b.Env != env {
			continue
		}
		if in(b.ReceivedAt) {
			st.Batches++
			st.Dropped += b.Dropped
		}
		for _, e := range b.Exposures {
			if in(e.Time) {
				st.Exposures++
				flags[[4]string{e.Flag, e.Variant, e.Experiment, e.Rollout}]++
				if e.Time.After(st.LastEvent) {
					st.LastEvent = e.Time
				}
			}
		}
		for _, e := range b.Tracks {
			if in(e.Time) {
				st.Tracks++
				mc := metrics[e.Name]
				if mc == nil {
					mc = &store.MetricCount{Name: e.Name}
					metrics[e.Name] = mc
				}
				mc.Events++
				if e.HasValue {
					mc.WithValue++
					mc.Sum += e.Value
				}
				if e.Time.After(st.LastEvent) {
					st.LastEvent = e.Time
				}
			}
		}
	}
	for k, n := range flags {
		st.Flags = append(st.Flags, store.FlagVariantCount{Flag: k[0], Variant: k[1], Experiment: k[2], Rollout: k[3], Exposures: n})
	}
	sort.Slice(st.Flags, func(i, j int) bool {
		return st.Flags[i].Flag+"\x00"+st.Flags[i].Variant < st.Flags[j].Flag+"\x00"+st.Flags[j].Variant
	})
	for _, mc := range metrics {
		st.Metrics = append(st.Metrics, *mc)
	}
	sort.Slice(st.Metrics, func(i, j int) bool { return st.Metrics[i].Name < st.Metrics[j].Name })
	return st, nil
}

func (m *memEvents) count() (batches, events int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.batches {
		events += len(b.Exposures) + len(b.Tracks)
	}
	return len(m.batches), events
}

// eventEnvironments gives production a private attribute and an
// allow-list of track properties.
const eventEnvironments = `
environments:
  - key: development
  - key: production
    privateAttributes: [email]
    eventProperties: [plan]
`

// eventFixture is a server with an event intake over memEvents, an SDK
// key of production and one of development.
type eventFixture struct {
	*fixture
	events          *memEvents
	pipeline        *ingest.Pipeline
	prodKey, devKey string
}

func newEventFixture(t testing.TB, opts server.Options, pipe ingest.Options) *eventFixture {
	t.Helper()
	mem := newMemEvents()
	f := newEventFixtureOver(t, mem, opts, pipe)
	f.events = mem
	return f
}

// eventBackend is what an event fixture's store must do.
type eventBackend interface {
	ingest.Store
	server.EventStats
}

// newEventFixtureOver builds an event fixture whose events go to backend.
func newEventFixtureOver(t testing.TB, backend eventBackend, opts server.Options, pipe ingest.Options) *eventFixture {
	t.Helper()
	base := newFixture(t)
	base.apply(eventEnvironments)
	ef := &eventFixture{prodKey: base.sdkKey("production"), devKey: base.sdkKey("development")}
	pipe.Store = backend
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	pipe.Registry = opts.Registry
	p, err := ingest.New(pipe)
	if err != nil {
		t.Fatal(err)
	}
	ef.pipeline = p
	opts.Store, opts.Intake, opts.EventStats = base.st, p, backend
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.StopStreams()
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	ef.fixture = &fixture{t: t, srv: srv, ts: ts, st: base.st}
	return ef
}

// eventBatch returns a batch of n events, alternating exposures and track
// events, of units user-0 … user-(n-1), timed now.
func eventBatch(id string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%q,"events":[`, id)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"kind":"exposure","time":%q,"unit":"user-%d","flag":"checkout","variant":"on","flagVersion":1,"reason":"SPLIT","experiment":"checkout-test"}`, ts, i)
		} else {
			fmt.Fprintf(&b, `{"kind":"track","time":%q,"unit":"user-%d","name":"purchase","value":2.5,"properties":{"plan":"pro","email":"e%d@example.com","coupon":"c"}}`, ts, i, i)
		}
	}
	b.WriteString("]}")
	return b.String()
}

type eventResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// postEvents sends a batch with the given headers (name, value pairs).
func (f *eventFixture) postEvents(body []byte, headers ...string) eventResponse {
	f.t.Helper()
	return postEventsTo(f.t, f.ts.URL, body, headers...)
}

func postEventsTo(t testing.TB, base string, body []byte, headers ...string) eventResponse {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/events/v1/batch", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return eventResponse{status: resp.StatusCode, header: resp.Header, body: out, raw: raw}
}

func gzipped(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func TestABatchIsAcknowledgedOnlyOnceStoredAndARetryIsADuplicate(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	r := f.postEvents([]byte(eventBatch("b-1", 4)), "Authorization", "Bearer "+f.prodKey)
	if r.status != http.StatusAccepted || r.body["accepted"] != 4.0 || r.body["duplicate"] != false {
		t.Fatalf("got %d %s, want 202 with 4 accepted", r.status, r.raw)
	}
	if r.body["droppedProperties"] != 4.0 {
		t.Errorf("droppedProperties %v, want 4 (email and coupon are not allowed, in two track events)", r.body["droppedProperties"])
	}
	if batches, events := f.events.count(); batches != 1 || events != 4 {
		t.Fatalf("stored %d batches, %d events after 202", batches, events)
	}
	again := f.postEvents([]byte(eventBatch("b-1", 4)), "X-API-Key", f.prodKey)
	if again.status != http.StatusAccepted || again.body["duplicate"] != true {
		t.Fatalf("retry: %d %s, want 202 with duplicate true", again.status, again.raw)
	}
	if batches, events := f.events.count(); batches != 1 || events != 4 {
		t.Fatalf("a retry stored again: %d batches, %d events", batches, events)
	}
	if got := f.metric(`weir_event_intake_batches_total{reason="duplicate",result="accepted"}`); got != 1 {
		t.Errorf("duplicate batches metric %v", got)
	}
}

func TestAGzippedBatchIsAccepted(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	r := f.postEvents(gzipped(t, eventBatch("gz", 10)), "X-API-Key", f.prodKey, "Content-Encoding", "gzip")
	if r.status != http.StatusAccepted || r.body["accepted"] != 10.0 {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
}

func TestAnInvalidBatchIsRefusedWholeWithEveryProblemLocated(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	now := time.Now().UTC().Format(time.RFC3339)
	tests := []struct {
		name, body string
		want       []string // index/field pairs as "1 flagVersion"
	}{
		{"content problems name each event", `{"id":"b","events":[
			{"kind":"exposure","time":"` + now + `","unit":"u","flag":"f","variant":"v","flagVersion":1},
			{"kind":"exposure","time":"` + now + `","unit":"u","flag":"f","variant":"v","flagVersion":0},
			{"kind":"track","time":"` + now + `","unit":"","name":"n"}]}`, []string{"1 flagVersion", "2 unit"}},
		{"a wrong type is located in its event", `{"id":"b","events":[
			{"kind":"track","time":"` + now + `","unit":"u","name":"n"},
			{"kind":"track","time":"` + now + `","unit":5,"name":"n"}]}`, []string{"1 unit"}},
		{"an envelope problem has index -1", `{"events":[]}`, []string{"-1 id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.postEvents([]byte(tt.body), "X-API-Key", f.prodKey)
			if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %s, want a 400 problem", r.status, r.raw)
			}
			var got []string
			errs, _ := r.body["errors"].([]any)
			for _, e := range errs {
				m := e.(map[string]any)
				got = append(got, fmt.Sprintf("%v %v", m["index"], m["field"]))
				if m["message"] == "" {
					t.Errorf("problem %v has no message", m)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("errors at %v, want %v: %s", got, tt.want, r.raw)
			}
		})
	}
	if batches, _ := f.events.count(); batches != 0 {
		t.Fatalf("%d invalid batches stored", batches)
	}
	if got := f.metric(`weir_event_intake_batches_total{reason="invalid",result="rejected"}`); got != 3 {
		t.Errorf("rejected batches metric %v, want 3", got)
	}
}

func TestOversizedAndUndecodableBodiesAreRefused(t *testing.T) {
	f := newEventFixture(t, server.Options{MaxEventBodyBytes: 64 << 10, MaxEventDecodedBytes: 256 << 10}, ingest.Options{})
	// A small gzip body that decompresses past the limit: JSON spaces.
	bomb := gzipped(t, `{"id":"bomb",`+strings.Repeat(" ", 1<<20)+`"events":[]}`)
	tests := []struct {
		name    string
		body    []byte
		headers []string
		status  int
	}{
		{"more events than a batch may hold", []byte(eventBatch("many", 5001)), nil, http.StatusRequestEntityTooLarge},
		{"a body over the limit as sent", []byte(eventBatch("big", 800)), nil, http.StatusRequestEntityTooLarge},
		{"a gzip body over the limit decompressed", bomb, []string{"Content-Encoding", "gzip"}, http.StatusRequestEntityTooLarge},
		{"a body that is not gzip", []byte(eventBatch("x", 1)), []string{"Content-Encoding", "gzip"}, http.StatusBadRequest},
		{"an unknown encoding", []byte(eventBatch("x", 1)), []string{"Content-Encoding", "br"}, http.StatusUnsupportedMediaType},
		{"an empty body", nil, nil, http.StatusBadRequest},
		{"not JSON", []byte(`{"id":`), nil, http.StatusBadRequest},
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("the gzip bomb is %d bytes compressed; it must fit under the body limit", len(bomb))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.postEvents(tt.body, append([]string{"X-API-Key", f.prodKey}, tt.headers...)...)
			if r.status != tt.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d (%s) %s, want a %d problem", r.status, r.header.Get("Content-Type"), r.raw, tt.status)
			}
		})
	}
	if batches, _ := f.events.count(); batches != 0 {
		t.Fatalf("%d refused batches stored", batches)
	}
}

func TestTheIntakeTakesOnlySDKKeys(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	body := []byte(eventBatch("auth", 2))
	for _, tt := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"no key", nil, http.StatusUnauthorized},
		{"an unknown key", []string{"X-API-Key", "weir_sdk_unknown"}, http.StatusUnauthorized},
		{"an admin token", []string{"Authorization", "Bearer " + adminToken}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := f.postEvents(body, tt.headers...); r.status != tt.status {
				t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.status)
			}
		})
	}
	// The admin routes refuse SDK keys and unknown environments.
	for _, tt := range []struct {
		path, key string
		status    int
	}{
		{"/api/v1/environments/production/events/stats", f.prodKey, http.StatusForbidden},
		{"/api/v1/environments/production/events/tail", f.prodKey, http.StatusForbidden},
		{"/api/v1/environments/nowhere/events/stats", adminToken, http.StatusNotFound},
		{"/api/v1/environments/nowhere/events/tail", adminToken, http.StatusNotFound},
		{"/api/v1/environments/production/events/stats", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("GET", f.ts.URL+tt.path, nil)
		if tt.key != "" {
			req.Header.Set("Authorization", "Bearer "+tt.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
	}
	if batches, _ := f.events.count(); batches != 0 {
		t.Fatalf("%d unauthorized batches stored", batches)
	}
}

func TestAKeyOverItsEventRateGets429WithRetryAfterAndOtherKeysDoNot(t *testing.T) {
	limits := eventLimits(10)
	f := newEventFixture(t, server.Options{EventLimits: limits, EventRateLimit: server.RateLimit{PerSecond: 2, Burst: 10}}, ingest.Options{})
	if r := f.postEvents([]byte(eventBatch("a", 10)), "X-API-Key", f.prodKey); r.status != http.StatusAccepted {
		t.Fatalf("within the burst: %d %s", r.status, r.raw)
	}
	r := f.postEvents([]byte(eventBatch("b", 4)), "X-API-Key", f.prodKey)
	if r.status != http.StatusTooManyRequests || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("beyond the rate: %d %s, want a 429 problem", r.status, r.raw)
	}
	if after, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || after < 1 || after > 3 {
		t.Errorf("Retry-After %q, want the 1 to 2 seconds 4 events take at 2/s", r.header.Get("Retry-After"))
	}
	if r := f.postEvents([]byte(eventBatch("c", 10)), "X-API-Key", f.devKey); r.status != http.StatusAccepted {
		t.Errorf("another key: %d", r.status)
	}
	code, stats := f.do("GET", "/api/v1/environments/production/events/stats", "")
	if code != http.StatusOK {
		t.Fatalf("stats: %d %v", code, stats)
	}
	intake := stats["intake"].(map[string]any)
	if intake["throttledBatches"] != 1.0 || intake["acceptedEvents"] != 10.0 {
		t.Errorf("intake counters %v, want 1 throttled batch and 10 accepted events", intake)
	}
}

func TestAFullQueueGets429WithRetryAfter(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{QueueEvents: 10})
	f.events.mu.Lock()
	gate := make(chan struct{})
	f.events.gate = gate
	f.events.mu.Unlock()
	done := make(chan eventResponse, 1)
	go func() { done <- f.postEvents([]byte(eventBatch("first", 10)), "X-API-Key", f.prodKey) }()
	eventuallyServer(t, "the first batch fills the queue", func() bool { return f.metric("weir_event_queue_events") == 10 })
	r := f.postEvents([]byte(eventBatch("second", 2)), "X-API-Key", f.prodKey)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("with a full queue: %d %s, want 429", r.status, r.raw)
	}
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
	close(gate)
	if first := <-done; first.status != http.StatusAccepted {
		t.Fatalf("the queued batch: %d %s", first.status, first.raw)
	}
	if r := f.postEvents([]byte(eventBatch("second", 2)), "X-API-Key", f.prodKey); r.status != http.StatusAccepted {
		t.Fatalf("after the queue drained: %d %s", r.status, r.raw)
	}
	if got := f.metric(`weir_event_intake_batches_total{reason="queue_full",result="throttled"}`); got < 1 {
		t.Errorf("queue_full metric %v", got)
	}
}

func TestStatsCountStoredEventsInTheWindow(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	for i := range 3 {
		if r := f.postEvents([]byte(eventBatch(fmt.Sprintf("s-%d", i), 4)), "X-API-Key", f.prodKey); r.status != http.StatusAccepted {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
	}
	f.postEvents([]byte(`{"id":"bad","events":[{"kind":"nope"}]}`), "X-API-Key", f.prodKey)
	code, st := f.do("GET", "/api/v1/environments/production/events/stats?window=1h", "")
	if code != http.StatusOK {
		t.Fatalf("stats: %d %v", code, st)
	}
	if st["exposures"] != 6.0 || st["tracks"] != 6.0 || st["batches"] != 3.0 || st["lastEvent"] == nil {
		t.Errorf("counts %v", st)
	}
	flags := st["flags"].([]any)
	if len(flags) != 1 || flags[0].(map[string]any)["exposures"] != 6.0 || flags[0].(map[string]any)["experiment"] != "checkout-test" {
		t.Errorf("flags %v", flags)
	}
	metrics := st["metrics"].([]any)
	if len(metrics) != 1 || metrics[0].(map[string]any)["sum"] != 15.0 {
		t.Errorf("metrics %v", metrics)
	}
	intake := st["intake"].(map[string]any)
	if intake["acceptedBatches"] != 3.0 || intake["rejectedBatches"] != 1.0 || !strings.Contains(intake["scope"].(string), "since it started") {
		t.Errorf("intake %v", intake)
	}
	code, dev := f.do("GET", "/api/v1/environments/development/events/stats", "")
	if code != http.StatusOK || dev["exposures"] != 0.0 || len(dev["flags"].([]any)) != 0 {
		t.Errorf("development: %d %v", code, dev)
	}
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	code, old := f.do("GET", "/api/v1/environments/production/events/stats?from="+past+"&to="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "")
	if code != http.StatusOK || old["exposures"] != 0.0 {
		t.Errorf("a window before the events: %d %v", code, old)
	}
	for _, q := range []string{"window=yesterday", "window=-1h", "window=1h&from=" + past, "from=now", "from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)} {
		if code, out := f.do("GET", "/api/v1/environments/production/events/stats?"+q, ""); code != http.StatusBadRequest {
			t.Errorf("?%s: %d %v, want 400", q, code, out)
		}
	}
}

func TestTheTailStreamsStoredEventsWithTokensOnly(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+"/api/v1/environments/production/events/tail", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("tail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ": tailing") {
		t.Fatalf("first line %q", line)
	}
	// A development batch must not show; the production one must.
	f.postEvents([]byte(eventBatch("dev", 2)), "X-API-Key", f.devKey)
	if r := f.postEvents([]byte(eventBatch("prod", 2)), "X-API-Key", f.prodKey); r.status != http.StatusAccepted {
		t.Fatalf("post: %d", r.status)
	}
	var kinds []string
	var units []string
	for len(units) < 2 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the tail: %v (got %v)", err, kinds)
		}
		if kind, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
			kinds = append(kinds, kind)
		}
		if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			if strings.Contains(data, "user-") || strings.Contains(data, "example.com") {
				t.Fatalf("the tail shows a raw unit or a private value: %s", data)
			}
			var ev struct {
				Batch, Unit string
				Properties  map[string]any
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Batch != "prod" {
				t.Fatalf("an event of batch %q, want only prod's", ev.Batch)
			}
			if b, err := hex.DecodeString(ev.Unit); err != nil || len(b) != ingest.TokenSize {
				t.Fatalf("unit %q is not a hex token", ev.Unit)
			}
			units = append(units, ev.Unit)
		}
	}
	if strings.Join(kinds, ",") != "exposure,track" || units[0] == units[1] {
		t.Fatalf("kinds %v units %v", kinds, units)
	}
}

// eventLimits returns the default limits with a smaller batch.
func eventLimits(maxEvents int) event.Limits {
	l := event.DefaultLimits()
	l.MaxEvents = maxEvents
	return l
}

func eventuallyServer(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSDKSnapshotsCarryThePrivateAttributesAndThePropertyAllowList(t *testing.T) {
	f := newEventFixture(t, server.Options{}, ingest.Options{})
	req, _ := http.NewRequest("GET", f.ts.URL+"/sdk/v1/snapshot", nil)
	req.Header.Set("X-API-Key", f.prodKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		File struct {
			Environments []struct {
				Key               string   `json:"key"`
				PrivateAttributes []string `json:"privateAttributes"`
				EventProperties   []string `json:"eventProperties"`
			} `json:"environments"`
		} `json:"file"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	envs := snap.File.Environments
	if len(envs) != 1 || fmt.Sprint(envs[0].PrivateAttributes) != "[email]" || fmt.Sprint(envs[0].EventProperties) != "[plan]" {
		t.Fatalf("environments %+v: SDKs need both lists to keep what the intake would drop in the application", envs)
	}
}

// discardEvents is an event store that keeps nothing, so that a benchmark
// measures the intake's own work.
type discardEvents struct{ *memEvents }

func (discardEvents) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	return make([]bool, len(batches)), nil
}

// BenchmarkEventBatch posts one 1,000-event batch in process, gzipped as
// SDKs send it, to an intake whose store keeps nothing: the server's CPU
// cost per batch (decompressing, decoding, validating, tokenizing,
// queueing) without the database. Divide 1,000 by the time per batch for
// the events a second one core sustains.
func BenchmarkEventBatch(b *testing.B) {
	f := newEventFixtureOver(b, discardEvents{newMemEvents()}, server.Options{EventRateLimit: server.RateLimit{PerSecond: -1}}, ingest.Options{})
	h := f.srv.Handler()
	events := []byte(eventBatch("", 1000))
	events = events[bytes.IndexByte(events, ','):]
	var zevents bytes.Buffer
	zw := gzip.NewWriter(&zevents)
	zw.Write(events)
	zw.Close()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	n := 0
	var head bytes.Buffer
	zh := gzip.NewWriter(&head)
	for b.Loop() {
		n++
		head.Reset()
		zh.Reset(&head) // a new gzip.Writer allocates its compressor anew
		fmt.Fprintf(zh, `{"id":"bench-%d"`, n)
		zh.Close()
		req := httptest.NewRequest("POST", "/events/v1/batch", io.MultiReader(&head, bytes.NewReader(zevents.Bytes())))
		req.Header.Set("X-API-Key", f.prodKey)
		req.Header.Set("Content-Encoding", "gzip")
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1000, "ns/event")
}

func TestASenderThatGivesUpIsNotLoggedAsAServerError(t *testing.T) {
	var logs bytes.Buffer
	f := newEventFixture(t, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ingest.Options{})
	f.events.mu.Lock()
	gate := make(chan struct{})
	f.events.gate = gate
	f.events.mu.Unlock()
	defer close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", f.ts.URL+"/events/v1/batch", strings.NewReader(eventBatch("gives-up", 2)))
	req.Header.Set("X-API-Key", f.prodKey)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request was answered while the store held it")
	}
	eventuallyServer(t, "the abandoned batch is counted", func() bool {
		return f.metric(`weir_event_intake_batches_total{reason="error",result="failed"}`) == 1
	})
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("an abandoned request was logged as an error:\n%s", logs.String())
	}
}
