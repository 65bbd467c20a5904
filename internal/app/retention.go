package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/internal/store"
)

// retentionStore is what the retention job needs from the store.
type retentionStore interface {
	Load(ctx context.Context) (*store.Config, error)
	DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error)
}

// Defaults of the retention job.
const (
	defaultRetentionInterval = time.Hour
	// retentionFirstRun is how soon after start the first pass runs (or
	// after one interval, when that is shorter).
	retentionFirstRun = time.Minute
	// retentionChunk is how many rows (events and batch records) one
	// delete transaction removes at most, so that the intake's writes are
	// never held up for long.
	retentionChunk = 10_000
)

// retention deletes every environment's events older than its retention
// (flagmodel.Environment.Retention, 90 days by default), in chunks, soon
// after start and then every interval.
type retention struct {
	store    retentionStore
	log      *slog.Logger
	interval time.Duration
	first    time.Duration
	chunk    int
	now      func() time.Time

	deleted     *prometheus.CounterVec
	runs        *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newRetention(st retentionStore, log *slog.Logger, reg prometheus.Registerer, interval time.Duration) (*retention, error) {
	if interval <= 0 {
		interval = defaultRetentionInterval
	}
	r := &retention{
		store: st, log: log, interval: interval, first: min(retentionFirstRun, interval), chunk: retentionChunk, now: time.Now,
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_event_retention_deleted_total",
			Help: "Rows (events and batch records) deleted because they were older than their environment's retention."}, []string{"env"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_event_retention_runs_total",
			Help: "Passes of the event retention job, by result (ok, error)."}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_event_retention_last_success_timestamp_seconds",
			Help: "When the event retention job last completed a pass without error (Unix time)."}),
	}
	for _, c := range []prometheus.Collector{r.deleted, r.runs, r.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register retention metrics: %w", err)
		}
	}
	return r, nil
}

// run deletes expired events soon after start and then every interval,
// until ctx is done.
func (r *retention) run(ctx context.Context) {
	t := time.NewTimer(r.first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("deleting expired events", "error", err.Error())
		}
		t.Reset(r.interval)
	}
}

// pass deletes, in each environment, the events older than its retention.
// An environment that fails does not stop the others; every failure is
// reported.
func (r *retention) pass(ctx context.Context) error {
	cfg, err := r.store.Load(ctx)
	if err != nil {
		r.runs.WithLabelValues("error").Inc()
		return fmt.Errorf("load environments: %w", err)
	}
	var errs []error
	total := int64(0)
	for _, e := range cfg.Environments {
		days := e.Value.Retention()
		before := r.now().Add(-time.Duration(days) * 24 * time.Hour)
		n, err := r.deleteBefore(ctx, e.Value.Key, before)
		total += n
		if n > 0 {
			r.deleted.WithLabelValues(e.Value.Key).Add(float64(n))
			r.log.Info("deleted expired events", "env", e.Value.Key, "rows", n, "retentionDays", days,
				"before", before.UTC().Format(time.RFC3339))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("environment %q: %w", e.Value.Key, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.runs.WithLabelValues("error").Inc()
		return err
	}
	r.runs.WithLabelValues("ok").Inc()
	r.lastSuccess.Set(float64(r.now().Unix()))
	r.log.Debug("event retention pass done", "deleted", total)
	return nil
}

// deleteBefore repeats chunked deletes until one deletes less than a
// chunk, and returns how many rows (events and batch records) it deleted.
func (r *retention) deleteBefore(ctx context.Context, env string, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := r.store.DeleteEventsBefore(ctx, env, before, r.chunk)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(r.chunk) {
			return total, nil
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
