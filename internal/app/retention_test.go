package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// expiringStore holds, per environment, how many events are older than
// the cut-off it is asked about, and records every delete call.
type expiringStore struct {
	mu      sync.Mutex
	envs    []flagmodel.Environment
	expired map[string]int64
	calls   []string // "env before limit"
	fail    map[string]error
}

func (s *expiringStore) Load(ctx context.Context) (*store.Config, error) {
	cfg := &store.Config{}
	for _, e := range s.envs {
		cfg.Environments = append(cfg.Environments, store.Versioned[flagmodel.Environment]{Value: e, Version: 1})
	}
	return cfg, nil
}

func (s *expiringStore) DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf("%s %s %d", env, before.UTC().Format(time.RFC3339), limit))
	if err := s.fail[env]; err != nil {
		return 0, err
	}
	n := min(s.expired[env], int64(limit))
	s.expired[env] -= n
	return n, nil
}

var retentionNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func newTestRetention(t *testing.T, st retentionStore, logs *bytes.Buffer) *retention {
	t.Helper()
	r, err := newRetention(st, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.chunk = 100
	r.now = func() time.Time { return retentionNow }
	return r
}

func TestRetentionDeletesEachEnvironmentsExpiredEventsInChunks(t *testing.T) {
	st := &expiringStore{
		envs:    []flagmodel.Environment{{Key: "production", RetentionDays: 30}, {Key: "staging"}},
		expired: map[string]int64{"production": 250, "staging": 100},
	}
	var logs bytes.Buffer
	r := newTestRetention(t, st, &logs)
	if err := r.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"production 2026-10-23T12:00:00Z 100", "production 2026-10-23T12:00:00Z 100", "production 2026-10-23T12:00:00Z 100",
		"staging 2026-08-24T12:00:00Z 100", "staging 2026-08-24T12:00:00Z 100",
	}
	if strings.Join(st.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("delete calls:\n%s\nwant (30 days for production, the default 90 for staging, until a chunk comes back short):\n%s",
			strings.Join(st.calls, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range []string{"env=production rows=250 retentionDays=30", "env=staging rows=100 retentionDays=90"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("the log lacks %q:\n%s", line, logs.String())
		}
	}
	if got := counterValue(t, r.deleted.WithLabelValues("production")); got != 250 {
		t.Errorf("deleted metric for production: %v", got)
	}
	if got := counterValue(t, r.runs.WithLabelValues("ok")); got != 1 {
		t.Errorf("ok runs: %v", got)
	}
}

func TestRetentionGoesOnPastAFailingEnvironmentAndReportsIt(t *testing.T) {
	st := &expiringStore{
		envs:    []flagmodel.Environment{{Key: "broken"}, {Key: "production"}},
		expired: map[string]int64{"production": 5},
		fail:    map[string]error{"broken": store.ErrUnavailable},
	}
	r := newTestRetention(t, st, &bytes.Buffer{})
	err := r.pass(context.Background())
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("got %v, want the broken environment's error", err)
	}
	if st.expired["production"] != 0 {
		t.Fatal("a failing environment stopped the others")
	}
	if got := counterValue(t, r.runs.WithLabelValues("error")); got != 1 {
		t.Errorf("error runs: %v", got)
	}
}

func TestRetentionRunsSoonAfterStartAndStopsWithItsContext(t *testing.T) {
	st := &expiringStore{envs: []flagmodel.Environment{{Key: "production"}}, expired: map[string]int64{}}
	r := newTestRetention(t, st, &bytes.Buffer{})
	r.first, r.interval = time.Millisecond, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st.mu.Lock()
		n := len(st.calls)
		st.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d passes after 5s", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the job did not stop with its context")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v", err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}
