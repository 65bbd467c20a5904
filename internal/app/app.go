// Package app is Weir's composition root: it opens the store, bootstraps a
// fresh database (environments, the first admin token), builds the HTTP
// server, serves, and shuts everything down in order. Nothing else in Weir
// wires components together.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/open"
)

// Config is the server configuration; the CLI fills it from flags and WEIR_*
// environment variables.
type Config struct {
	// Addr is the listen address (default 127.0.0.1:8420).
	Addr string
	// DB is "sqlite:PATH" (default sqlite:weir.db) or a postgres:// URL.
	DB string
	// AdminToken, when set, is accepted as an admin token (stored hashed).
	AdminToken string
	// ShutdownTimeout bounds graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
	// RefreshInterval is how often the server looks for changes committed
	// by other replicas (default 1s).
	RefreshInterval time.Duration

	// EventQueue bounds the event intake's queue, in events (default
	// 100,000); beyond it senders get 429.
	EventQueue int
	// EventsPerSecond bounds each SDK key's events (default 100,000 a
	// second, burst twice that); a negative value turns the limit off.
	EventsPerSecond float64
	// UnitTokenPepper, when set, is mixed into every environment's unit
	// token key (see docs/privacy.md). It must be the same on every
	// replica and never change.
	UnitTokenPepper string
	// RetentionInterval is how often expired events are deleted (default
	// 1h; the first pass runs within a minute of starting).
	RetentionInterval time.Duration
}

// DefaultEnvironments are created on first start.
var DefaultEnvironments = []string{"development", "staging", "production"}

// Validate reports every configuration problem at once.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("db: required (sqlite:PATH or postgres://…)"))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, errors.New("admin token: at least 16 characters"))
	}
	if c.EventQueue < 0 {
		errs = append(errs, fmt.Errorf("event queue %d: must not be negative (0 means the default, %d)", c.EventQueue, ingest.DefaultQueueEvents))
	}
	if c.UnitTokenPepper != "" && len(c.UnitTokenPepper) < ingest.MinPepperLength {
		errs = append(errs, fmt.Errorf("unit token pepper: at least %d characters", ingest.MinPepperLength))
	}
	if c.RetentionInterval < 0 || (c.RetentionInterval > 0 && c.RetentionInterval < time.Second) {
		errs = append(errs, fmt.Errorf("retention interval %s: at least one second (0 means the default, %s)", c.RetentionInterval, defaultRetentionInterval))
	}
	return errors.Join(errs...)
}

// OpenStore opens the store named by dsn (see package open). The DSN never
// appears in errors: it may hold a password.
func OpenStore(ctx context.Context, dsn string) (store.Store, error) {
	return open.Open(ctx, dsn)
}

// App is a running Weir server.
type App struct {
	cfg    Config
	log    *slog.Logger
	store  store.Store
	server *server.Server
	http   *http.Server
	ln     net.Listener
	// The event intake and retention.
	pipeline  *ingest.Pipeline
	retention *retention
}

// New opens the store, bootstraps it and prepares the server; it does not
// listen yet. Messages meant for the operator once (a generated admin token)
// go to out.
func New(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (*App, error) {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a := &App{cfg: cfg, log: log, store: st}
	if err := a.bootstrap(ctx, out); err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := server.Options{Store: st, Logger: log, Registry: reg,
		EventRateLimit: server.RateLimit{PerSecond: cfg.EventsPerSecond, Burst: int(2 * max(cfg.EventsPerSecond, 0))}}
	if err := a.startEvents(&opts, reg); err != nil {
		st.Close()
		return nil, err
	}
	fail := func(err error) (*App, error) {
		a.stopEvents(context.Background())
		st.Close()
		return nil, err
	}
	srv, err := server.New(opts)
	if err != nil {
		return fail(err)
	}
	if err := srv.Reload(ctx); err != nil {
		return fail(err)
	}
	a.server = srv
	a.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Long-lived SDK streams would otherwise hold graceful shutdown until
	// its timeout.
	a.http.RegisterOnShutdown(srv.StopStreams)
	return a, nil
}

// startEvents starts the event pipeline, prepares the retention job and
// hands the pipeline to the server.
func (a *App) startEvents(opts *server.Options, reg *prometheus.Registry) error {
	p, err := ingest.New(ingest.Options{Store: a.store, Logger: a.log, Registry: reg, QueueEvents: a.cfg.EventQueue,
		Pepper: []byte(a.cfg.UnitTokenPepper)})
	if err != nil {
		return err
	}
	r, err := newRetention(a.store, a.log, reg, a.cfg.RetentionInterval)
	if err != nil {
		_ = p.Stop(context.Background())
		return err
	}
	a.pipeline, a.retention = p, r
	opts.Intake, opts.EventStats = p, a.store
	if a.cfg.UnitTokenPepper != "" {
		a.log.Info("unit tokens are peppered", "pepperFingerprint", ingest.PepperFingerprint([]byte(a.cfg.UnitTokenPepper)))
	}
	return nil
}

// stopEvents stops the pipeline after writing what it holds.
func (a *App) stopEvents(ctx context.Context) {
	if a.pipeline == nil {
		return
	}
	if err := a.pipeline.Stop(ctx); err != nil {
		a.log.Warn("the event queue was not fully written", "error", err.Error())
	}
}

// bootstrap creates the default environments and the first admin token on
// an empty database.
func (a *App) bootstrap(ctx context.Context, out io.Writer) error {
	cfg, err := a.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	if len(cfg.Environments) == 0 {
		cs := &store.Changeset{Actor: "system", Action: "bootstrap", Reason: "first start"}
		for _, e := range DefaultEnvironments {
			env := flagmodel.Environment{Key: e}
			cs.Changes = append(cs.Changes, store.Change{Kind: store.KindEnvironment, Key: e, Environment: &env})
		}
		if _, err := a.store.Commit(ctx, cs); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("create default environments: %w", err)
		}
		a.log.Info("created default environments", "environments", strings.Join(DefaultEnvironments, ","))
	}
	if a.cfg.AdminToken != "" {
		if _, err := a.store.KeyByHash(ctx, auth.Hash(a.cfg.AdminToken)); errors.Is(err, store.ErrNotFound) {
			k := store.Key{ID: auth.NewID(), Name: "bootstrap-admin", Scope: store.ScopeAdmin, Hash: auth.Hash(a.cfg.AdminToken),
				Prefix: auth.Shown(a.cfg.AdminToken), CreatedBy: "system", CreatedAt: time.Now().UTC()}
			if err := a.store.CreateKey(ctx, k); err != nil {
				return fmt.Errorf("store admin token: %w", err)
			}
			a.log.Info("stored the admin token from WEIR_ADMIN_TOKEN (hashed)")
		} else if err != nil {
			return fmt.Errorf("look up admin token: %w", err)
		}
		return nil
	}
	keys, err := a.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	for _, k := range keys {
		if k.Scope == store.ScopeAdmin && k.RevokedAt == nil {
			return nil
		}
	}
	secret, shown, err := auth.NewSecret(store.ScopeAdmin)
	if err != nil {
		return err
	}
	k := store.Key{ID: auth.NewID(), Name: "bootstrap-admin", Scope: store.ScopeAdmin, Hash: auth.Hash(secret),
		Prefix: shown, CreatedBy: "system", CreatedAt: time.Now().UTC()}
	if err := a.store.CreateKey(ctx, k); err != nil {
		return fmt.Errorf("store admin token: %w", err)
	}
	fmt.Fprintf(out, "Generated the first admin token; it is shown only this once and stored hashed:\n\n  %s\n\nUse it with: export WEIR_TOKEN=%s\n\n", secret, secret)
	return nil
}

// Listen binds the listen address; Addr then reports the bound address.
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	a.ln = ln
	return nil
}

// Addr returns the bound address after Listen.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Server returns the HTTP server component (for tests and benchmarks).
func (a *App) Server() *server.Server { return a.server }

// Serve serves until ctx is done, then shuts down in order: stop accepting
// and drain requests (an event batch in flight is still stored and
// acknowledged), stop the background workers, write what the event queue
// still holds, close the store.
func (a *App) Serve(ctx context.Context) error {
	if a.ln == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	a.log.Info("serving", "addr", a.Addr())
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(a.ln) }()
	workersCtx, stopWorkers := context.WithCancel(ctx)
	var workers sync.WaitGroup
	workers.Go(func() { a.refresh(workersCtx) })
	workers.Go(func() { a.retention.run(workersCtx) })
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.http.Shutdown(sctx); err != nil {
		a.log.Warn("graceful shutdown incomplete", "error", err.Error())
	}
	stopWorkers()
	workers.Wait()
	a.stopEvents(sctx)
	if err := a.store.Close(); err != nil {
		a.log.Warn("closing the store", "error", err.Error())
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// refresh picks up changes committed by other replicas sharing the
// database: it polls the audit log's head, which every commit advances, and
// reloads the snapshots when it moved. It stops when ctx is done.
func (a *App) refresh(ctx context.Context) {
	t := time.NewTicker(a.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seq := a.server.AuditSeq()
		newer, err := a.store.Audit(ctx, seq, 1)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("looking for changes from other replicas", "error", err.Error())
			}
			continue
		}
		if len(newer) > 0 {
			if err := a.server.Reload(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("reloading snapshots", "error", err.Error())
			}
		}
	}
}

// Close releases the event pipeline and the store when Serve was never
// called.
func (a *App) Close() error {
	a.stopEvents(context.Background())
	return a.store.Close()
}
