package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// Store is what the server needs from persistence.
type Store interface {
	Commit(ctx context.Context, cs *store.Changeset) (store.Committed, error)
	Load(ctx context.Context) (*store.Config, error)
	Audit(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error)
	History(ctx context.Context, kind store.Kind, key, env string) ([]store.Version, error)
	CreateKey(ctx context.Context, k store.Key) error
	Keys(ctx context.Context) ([]store.Key, error)
	KeyByHash(ctx context.Context, hash []byte) (store.Key, error)
	RevokeKey(ctx context.Context, id, actor string) error
	Ping(ctx context.Context) error
	AggregateExperiment(ctx context.Context, q store.AggregateQuery) (store.Aggregates, error)
	SaveAnalysis(ctx context.Context, a store.Analysis) error
	DistinctUnits(ctx context.Context, env string, from, to time.Time) (int64, error)
	Analyses(ctx context.Context, env, experiment string, limit int) ([]store.Analysis, error)
}

// Options configure a Server. Store is required; the rest have defaults.
type Options struct {
	Store    Store
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// MaxBodyBytes bounds request bodies (default 1 MiB); apply bodies may be
	// up to MaxApplyBytes (default 32 MiB).
	MaxBodyBytes  int64
	MaxApplyBytes int64
	// OFREPRateLimit bounds each SDK key's OFREP requests (default 1000/s,
	// burst 2000); excess requests get 429 with Retry-After.
	OFREPRateLimit RateLimit
	// SDKHeartbeat is how often idle SDK streams (and event tails) get a
	// comment (default 15s).
	SDKHeartbeat time.Duration

	// Intake receives event batches (POST /events/v1/batch) and feeds
	// event tails; EventStats answers the stats route. Without them those
	// routes answer 503.
	Intake     Intake
	EventStats EventStats
	// EventLimits bound a batch's content (default event.DefaultLimits()).
	EventLimits event.Limits
	// MaxEventBodyBytes bounds an event batch as sent (default 4 MiB), and
	// MaxEventDecodedBytes once decompressed (default 32 MiB).
	MaxEventBodyBytes    int64
	MaxEventDecodedBytes int64
	// EventRateLimit bounds each SDK key's events per second (default
	// 100,000 a second, burst 200,000; the burst is raised to one full
	// batch at least). Excess batches get 429 with Retry-After.
	EventRateLimit RateLimit
}

// Server serves the HTTP API. Create it with New.
type Server struct {
	store     Store
	log       *slog.Logger
	registry  *prometheus.Registry
	maxBody   int64
	maxApply  int64
	snapshots atomic.Pointer[snapshotSet]
	reloadMu  sync.Mutex
	mux       *http.ServeMux
	routes    []route
	keysMu    sync.RWMutex
	keys      map[[sha256.Size]byte]cachedKey // by the secret's hash
	metrics   metrics

	ofrepLimit RateLimit
	// SDK sync (sdksync.go).
	sdk          *sdkSync
	sdkHeartbeat time.Duration
	// Event intake (events.go).
	intake *intake
	// experimentMu serializes experiment steps (experiments.go).
	experimentMu sync.Mutex
}

// snapshotSet is what the server serves: the configuration it was built
// from (never modified once published) and one prepared snapshot per
// environment.
type snapshotSet struct {
	cfg      *store.Config
	byEnv    map[string]*eval.Snapshot
	auditSeq int64
	loadedAt time.Time
}

type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	reloads   *prometheus.CounterVec
	reloadDur prometheus.Histogram
	flags     prometheus.Gauge
}

// route records a registered pattern, so a test can check that the OpenAPI
// document covers every route.
type route struct{ method, path string }

// New builds a server. Call Reload before serving traffic.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: a store is required")
	}
	s := &Server{
		store:    opts.Store,
		log:      opts.Logger,
		registry: opts.Registry,
		maxBody:  opts.MaxBodyBytes,
		maxApply: opts.MaxApplyBytes,
		mux:      http.NewServeMux(),

		ofrepLimit:   opts.OFREPRateLimit,
		sdkHeartbeat: opts.SDKHeartbeat,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.maxApply <= 0 {
		s.maxApply = 32 << 20
	}
	s.metrics = metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_http_requests_total",
			Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"route"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_snapshot_reloads_total",
			Help: "Snapshot rebuilds after configuration changes: full, or incremental (only changed flags prepared again)."}, []string{"kind"}),
		reloadDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_snapshot_reload_duration_seconds",
			Help: "Time to load and prepare all environments' snapshots.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}),
		flags: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_flags", Help: "Flags in the loaded configuration."}),
	}
	for _, c := range []prometheus.Collector{s.metrics.requests, s.metrics.latency, s.metrics.reloads, s.metrics.reloadDur, s.metrics.flags} {
		if err := s.registry.Register(c); err != nil {
			return nil, fmt.Errorf("server: register metrics: %w", err)
		}
	}
	var err error
	if s.intake, err = s.newIntake(opts); err != nil {
		return nil, err
	}
	s.registerRoutes()
	return s, nil
}

// Reload loads the configuration and atomically swaps in freshly prepared
// snapshots. Concurrent calls are serialized; a reload that finds nothing
// newer than the current set keeps it.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Server) reloadLocked(ctx context.Context) error {
	start := time.Now()
	cfg, err := s.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	if cur := s.snapshots.Load(); cur != nil && cur.auditSeq == cfg.AuditSeq && cfg.AuditSeq != 0 {
		return nil
	}
	set, err := prepareSet(cfg)
	if err != nil {
		return err
	}
	s.publish(set, start, "full")
	return nil
}

// prepareSet prepares every environment's snapshot from scratch.
func prepareSet(cfg *store.Config) (*snapshotSet, error) {
	snaps, err := eval.PrepareAll(plan.FileOf(cfg))
	if err != nil {
		return nil, fmt.Errorf("prepare snapshots: %w", err)
	}
	// Environments without flags still get (empty) snapshots.
	for _, e := range cfg.Environments {
		if snaps[e.Value.Key] == nil {
			if s1, err := eval.Prepare(plan.FileOf(cfg, e.Value.Key), e.Value.Key); err == nil {
				snaps[e.Value.Key] = s1
			}
		}
	}
	return &snapshotSet{cfg: cfg, byEnv: snaps, auditSeq: cfg.AuditSeq}, nil
}

func (s *Server) publish(set *snapshotSet, start time.Time, kind string) {
	set.loadedAt = time.Now()
	s.snapshots.Store(set)
	s.metrics.reloads.WithLabelValues(kind).Inc()
	s.metrics.reloadDur.Observe(time.Since(start).Seconds())
	s.metrics.flags.Set(float64(len(set.cfg.Flags)))
	s.sdk.notify()
}

// current returns the configuration as stored now: the one the snapshots
// were built from when no commit happened since (one cheap look at the
// audit log's head), else a fresh load. Callers must not modify it.
func (s *Server) current(ctx context.Context) (*store.Config, error) {
	if set := s.snapshots.Load(); set != nil {
		newer, err := s.store.Audit(ctx, set.auditSeq, 1)
		if err != nil {
			return nil, err
		}
		if len(newer) == 0 {
			return set.cfg, nil
		}
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s.snapshots.Load().cfg, nil
}

// afterCommit publishes the snapshots of a configuration this server just
// changed. When nothing else was committed since base (the audit sequence
// advanced by exactly this changeset's entries), the new configuration is
// derived from base and only the changed flags (and their dependants) are
// prepared again; otherwise, or when segments or environments changed, it
// reloads everything.
func (s *Server) afterCommit(ctx context.Context, base *store.Config, cs *store.Changeset, committed store.Committed, compiled *flagmodel.Compiled) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	set := s.snapshots.Load()
	if set == nil || set.cfg != base || committed.AuditSeq != base.AuditSeq+int64(len(cs.Changes)) {
		return s.reloadLocked(ctx)
	}
	next, err := plan.Apply(base, cs, committed)
	if err != nil {
		return s.reloadLocked(ctx)
	}
	changed := map[string]*flagmodel.Flag{}
	for _, c := range cs.Changes {
		if c.Kind == store.KindMetric || c.Kind == store.KindExperiment {
			continue // evaluation reads neither
		}
		if c.Kind != store.KindFlag && c.Kind != store.KindFlagState {
			full, err := prepareSet(next)
			if err != nil {
				return err
			}
			s.publish(full, start, "full")
			return nil
		}
		changed[c.Key] = nil // removed unless found below
	}
	for key := range changed {
		i := sort.Search(len(next.Flags), func(i int) bool { return next.Flags[i].Value.Key >= key })
		if i < len(next.Flags) && next.Flags[i].Value.Key == key {
			m := next.Flags[i].Value
			changed[key] = &m
		}
	}
	byEnv := make(map[string]*eval.Snapshot, len(set.byEnv))
	for env, snap := range set.byEnv {
		if len(changed) == 0 {
			byEnv[env] = snap
			continue
		}
		ns, err := snap.Update(changed, compiled)
		if err != nil {
			return s.reloadLocked(ctx)
		}
		byEnv[env] = ns
	}
	s.publish(&snapshotSet{cfg: next, byEnv: byEnv, auditSeq: next.AuditSeq}, start, "incremental")
	return nil
}

// Snapshot returns the prepared snapshot of env, or nil.
func (s *Server) Snapshot(env string) *eval.Snapshot {
	set := s.snapshots.Load()
	if set == nil {
		return nil
	}
	return set.byEnv[env]
}

// AuditSeq returns the audit sequence number the loaded snapshots include.
func (s *Server) AuditSeq() int64 {
	if set := s.snapshots.Load(); set != nil {
		return set.auditSeq
	}
	return 0
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.mux }

// handle registers a route with metrics and, unless public, admin auth.
func (s *Server) handle(method, path string, admin bool, h func(w http.ResponseWriter, r *http.Request) error) {
	pattern := method + " " + path
	s.routes = append(s.routes, route{method, path})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		limit := s.maxBody
		switch path {
		case "/api/v1/apply":
			limit = s.maxApply // flags files are larger than API bodies
		case eventBatchPath:
			limit = s.intake.maxBody // as sent; readBody bounds it decompressed
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
		var err error
		if admin {
			var actor string
			actor, err = s.authorizeAdmin(r)
			if err == nil {
				r = r.WithContext(withActor(r.Context(), actor))
			}
		}
		if err == nil {
			err = h(rec, r)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
		s.metrics.requests.WithLabelValues(pattern, statusLabel(rec.status)).Inc()
		s.metrics.latency.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

// statusLabel is a status code as a metric label; the common ones are
// constants, so counting a request does not allocate.
func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusCreated:
		return "201"
	case http.StatusAccepted:
		return "202"
	case http.StatusNoContent:
		return "204"
	case http.StatusNotModified:
		return "304"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusNotFound:
		return "404"
	case http.StatusTooManyRequests:
		return "429"
	}
	return strconv.Itoa(code)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

type actorKey struct{}

func withActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "unknown"
}

// authorizeAdmin checks the bearer token and returns the actor name.
func (s *Server) authorizeAdmin(r *http.Request) (string, error) {
	token := auth.BearerToken(r.Header.Get("Authorization"))
	if token == "" {
		return "", errUnauthorized
	}
	k, err := s.lookupKey(r.Context(), token)
	if err != nil {
		return "", err
	}
	if k.Scope != store.ScopeAdmin {
		return "", errForbidden
	}
	return "key:" + k.Name, nil
}

var errSDKUnauthorized = &requestError{status: http.StatusUnauthorized,
	msg: "an SDK key is required (Authorization: Bearer weir_sdk_… or X-API-Key)"}

// authorizeSDK checks an SDK key, from "Authorization: Bearer" or
// "X-API-Key", and returns the key (its Env is the environment it may
// read). Admin tokens are refused: applications get SDK keys.
func (s *Server) authorizeSDK(r *http.Request) (store.Key, error) {
	token := auth.BearerToken(r.Header.Get("Authorization"))
	if token == "" {
		token = strings.TrimSpace(r.Header.Get("X-API-Key"))
	}
	if token == "" {
		return store.Key{}, errSDKUnauthorized
	}
	k, err := s.lookupKey(r.Context(), token)
	if err != nil {
		if err == errUnauthorized {
			return store.Key{}, errSDKUnauthorized
		}
		return store.Key{}, err
	}
	if k.Scope != store.ScopeSDK {
		return store.Key{}, errForbidden
	}
	return k, nil
}

// keyCacheTTL bounds how long a looked-up key is trusted without asking
// the store again: evaluation endpoints must not query the database per
// request. A revocation on this server takes effect at once (the cache is
// dropped); on another replica within keyCacheTTL.
const keyCacheTTL = 2 * time.Second

type cachedKey struct {
	key     store.Key
	found   bool
	fetched time.Time
}

// lookupKey finds a valid (known, not revoked) key by its secret.
func (s *Server) lookupKey(ctx context.Context, token string) (store.Key, error) {
	// The cache is keyed by the hash as an array: no allocation per request.
	hash := auth.HashSum(token)
	s.keysMu.RLock()
	c, ok := s.keys[hash]
	s.keysMu.RUnlock()
	if ok && time.Since(c.fetched) < keyCacheTTL {
		if !c.found {
			return store.Key{}, errUnauthorized
		}
		return c.key, nil
	}
	// A copy for the store, declared here so that only a miss allocates
	// it: a slice passed through an interface escapes.
	stored := hash
	k, err := s.store.KeyByHash(ctx, stored[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.cacheKey(hash, cachedKey{found: false, fetched: time.Now()})
		return store.Key{}, errUnauthorized
	case err != nil:
		return store.Key{}, err
	}
	if k.RevokedAt != nil || !auth.Matches(token, k.Hash) {
		s.cacheKey(hash, cachedKey{found: false, fetched: time.Now()})
		return store.Key{}, errUnauthorized
	}
	s.cacheKey(hash, cachedKey{key: k, found: true, fetched: time.Now()})
	return k, nil
}

// maxCachedKeys bounds the key cache, which unknown secrets could
// otherwise grow without limit.
const maxCachedKeys = 10000

func (s *Server) cacheKey(hash [sha256.Size]byte, v cachedKey) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.keys == nil || len(s.keys) >= maxCachedKeys {
		s.keys = map[[sha256.Size]byte]cachedKey{}
	}
	s.keys[hash] = v
}

// forgetKeys drops the key cache (after a revocation).
func (s *Server) forgetKeys() {
	s.keysMu.Lock()
	s.keys = nil
	s.keysMu.Unlock()
}

// decodeJSON reads a strict JSON body: unknown fields and trailing data are
// errors, and so is a body over the size limit.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body is larger than %d bytes", mbe.Limit)}
		}
		if errors.Is(err, io.EOF) {
			return badRequest("", "the request body is empty; a JSON object is required")
		}
		msg := strings.TrimPrefix(err.Error(), "json: ")
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badRequest(te.Field, fmt.Sprintf("cannot use a JSON %s here", te.Value))
		}
		if strings.HasPrefix(msg, "unknown field ") {
			return badRequest(strings.Trim(strings.TrimPrefix(msg, "unknown field "), `"`), "unknown field")
		}
		return badRequest("", "invalid JSON body: "+msg)
	}
	if dec.More() {
		return badRequest("", "unexpected data after the JSON body")
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body is larger than %d bytes", mbe.Limit)}
		}
		return nil, badRequest("", "reading the body: "+err.Error())
	}
	return buf.Bytes(), nil
}

func (s *Server) registerHealth() {
	s.handle("GET", "/healthz", false, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	s.handle("GET", "/readyz", false, func(w http.ResponseWriter, r *http.Request) error {
		checks := map[string]string{"database": "ok", "snapshot": "ok"}
		ready := true
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			checks["database"], ready = "unreachable", false
		}
		if s.snapshots.Load() == nil {
			checks["snapshot"], ready = "not loaded", false
		}
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": ready, "checks": checks})
		return nil
	})
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	s.routes = append(s.routes, route{"GET", "/metrics"})
	s.mux.Handle("GET /metrics", h)
}
