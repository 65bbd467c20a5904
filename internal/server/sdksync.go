package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// SDK sync: SDKs download their environment's flags once
// (GET /sdk/v1/snapshot, with an ETag) and then follow changes over
// Server-Sent Events (GET /sdk/v1/stream). Both send the same document,
// SDKSnapshot, so an SDK prepares exactly the snapshot the server evaluates
// with and reports the same flag versions.

// defaultSDKHeartbeat is how often an idle stream sends a comment, so
// proxies keep the connection open and clients notice a dead one.
const defaultSDKHeartbeat = 15 * time.Second

// sdkWriteTimeout bounds one write to a stream: a client that reads
// nothing for that long is dropped instead of holding its handler forever.
const sdkWriteTimeout = 30 * time.Second

// SDKSnapshot is the document of GET /sdk/v1/snapshot and of every
// "snapshot" event of GET /sdk/v1/stream.
type SDKSnapshot struct {
	// Environment is the SDK key's environment, the only one in File.
	Environment string `json:"environment"`
	// Version identifies the environment's content: the audit sequence
	// number at which this server first served it. Unrelated changes (to
	// other environments) keep it, so ETags and streams stay quiet.
	Version int64 `json:"version"`
	// File is a flags file valid for flagmodel.Parse and eval.Prepare,
	// reduced to what evaluation needs: no descriptions, owners, kinds,
	// tags or other environments.
	File json.RawMessage `json:"file"`
	// FlagVersions holds each flag state's version in Environment, which
	// the file format does not carry (FlagState.Version is not encoded).
	FlagVersions map[string]int64 `json:"flagVersions,omitempty"`
}

// sdkSync serves SDK snapshots and fans changes out to streams.
type sdkSync struct {
	heartbeat time.Duration
	conns     prometheus.Gauge

	mu      sync.Mutex
	subs    map[*sdkSubscriber]struct{}
	stopped bool
	stop    chan struct{} // closed by StopStreams

	cacheMu sync.Mutex
	cache   map[string]*sdkEnvCache
}

// sdkSubscriber is one stream. notify holds at most one pending signal:
// the stream always sends the newest snapshot, so any number of changes
// while a client is slow coalesce into one event.
type sdkSubscriber struct {
	notify chan struct{}
}

// sdkEnvCache holds one environment's encoded snapshot, built once per
// published configuration however many clients ask.
type sdkEnvCache struct {
	mu  sync.Mutex // serializes building
	cur atomic.Pointer[sdkPayload]
}

// sdkPayload is one environment's encoded snapshot. It keeps the document
// gzip-compressed: JSON of many similar flags compresses tenfold or more,
// and an idle server should not hold megabytes per environment that no
// client is reading. Clients that accept gzip get the compressed bytes as
// they are; streams and other clients share one decompressed copy, held
// only weakly: while any of them writes it, it stays, and once all are
// done the garbage collector takes it back.
type sdkPayload struct {
	seq     int64 // audit sequence of the configuration it was checked against
	version int64
	sum     [sha256.Size]byte // of the environment's content, without version
	gz      []byte            // SDKSnapshot JSON, gzip-compressed
	etag    string

	// body is the shared decompressed document, if some reader still holds
	// it; mu serializes decompressing.
	mu   *sync.Mutex
	body *weak.Pointer[sdkBody]
}

// sdkBody is a decompressed SDKSnapshot document. Hold the *sdkBody, not
// just its bytes, while writing them, so other readers can share it.
type sdkBody struct{ json []byte }

// document returns the decompressed SDKSnapshot JSON, shared with every
// other reader that holds it now.
func (p *sdkPayload) document() (*sdkBody, error) {
	if b := p.body.Value(); b != nil {
		return b, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.body.Value(); b != nil {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(p.gz))
	if err != nil {
		return nil, fmt.Errorf("decompress SDK snapshot: %w", err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress SDK snapshot: %w", err)
	}
	b := &sdkBody{json: doc}
	*p.body = weak.Make(b)
	return b, nil
}

func (s *Server) registerSDK() {
	hb := s.sdkHeartbeat
	if hb <= 0 {
		hb = defaultSDKHeartbeat
	}
	s.sdk = &sdkSync{
		heartbeat: hb,
		conns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weir_sse_connections",
			Help: "Open SDK streams (GET /sdk/v1/stream)."}),
		subs:  map[*sdkSubscriber]struct{}{},
		stop:  make(chan struct{}),
		cache: map[string]*sdkEnvCache{},
	}
	if err := s.registry.Register(s.sdk.conns); err != nil {
		s.log.Error("registering the SSE connections gauge failed", "error", err.Error())
	}
	s.handle("GET", "/sdk/v1/snapshot", false, s.sdkSnapshot)
	// Streams bypass handle: its latency histogram would record hours, and
	// its response wrapper cannot flush.
	s.routes = append(s.routes, route{"GET", "/sdk/v1/stream"})
	s.mux.HandleFunc("GET /sdk/v1/stream", s.sdkStream)
}

// StopStreams ends every open SDK stream and event tail and refuses new
// ones. Call it when shutting down (http.Server.RegisterOnShutdown):
// Shutdown waits for connections to become idle, which a stream never
// does.
func (s *Server) StopStreams() {
	s.sdk.mu.Lock()
	defer s.sdk.mu.Unlock()
	if !s.sdk.stopped {
		s.sdk.stopped = true
		close(s.sdk.stop)
	}
}

// notify wakes every stream after a new configuration is published. It
// never blocks: a stream with a signal pending already has one.
func (b *sdkSync) notify() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		select {
		case sub.notify <- struct{}{}:
		default:
		}
	}
}

func (b *sdkSync) subscribe() (*sdkSubscriber, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return nil, false
	}
	sub := &sdkSubscriber{notify: make(chan struct{}, 1)}
	b.subs[sub] = struct{}{}
	b.conns.Inc()
	return sub, true
}

func (b *sdkSync) unsubscribe(sub *sdkSubscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, sub)
	b.conns.Dec()
}

var errSDKEnvironmentGone = &requestError{status: http.StatusNotFound,
	msg: "the SDK key's environment does not exist (any more)"}

// sdkPayload returns env's encoded snapshot for the published
// configuration, encoding it only when the configuration changed.
func (s *Server) sdkPayload(env string) (*sdkPayload, error) {
	set := s.snapshots.Load()
	if set == nil {
		return nil, &requestError{status: http.StatusServiceUnavailable, msg: "no configuration loaded yet"}
	}
	s.sdk.cacheMu.Lock()
	c := s.sdk.cache[env]
	if c == nil {
		c = &sdkEnvCache{}
		s.sdk.cache[env] = c
	}
	s.sdk.cacheMu.Unlock()
	if p := c.cur.Load(); p != nil && p.seq == set.auditSeq {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.cur.Load()
	if prev != nil && prev.seq >= set.auditSeq {
		return prev, nil
	}
	p, err := encodeSDKPayload(set, env, prev)
	if err != nil {
		return nil, err
	}
	c.cur.Store(p)
	return p, nil
}

func encodeSDKPayload(set *snapshotSet, env string, prev *sdkPayload) (*sdkPayload, error) {
	known := false
	for _, e := range set.cfg.Environments {
		known = known || e.Value.Key == env
	}
	if !known {
		return nil, errSDKEnvironmentGone
	}
	file, versions := sdkFile(set.cfg, env)
	fileJSON, err := json.Marshal(file)
	if err != nil {
		return nil, fmt.Errorf("encode SDK snapshot of %q: %w", env, err)
	}
	versionsJSON, err := json.Marshal(versions)
	if err != nil {
		return nil, fmt.Errorf("encode SDK snapshot of %q: %w", env, err)
	}
	h := sha256.New()
	h.Write(fileJSON)
	h.Write([]byte{0})
	h.Write(versionsJSON)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if prev != nil && prev.sum == sum {
		// Same content: keep its version (and ETag), so a change to
		// another environment wakes no client of this one.
		p := *prev
		p.seq = set.auditSeq
		return &p, nil
	}
	body, err := json.Marshal(SDKSnapshot{Environment: env, Version: set.auditSeq, File: fileJSON, FlagVersions: versions})
	if err != nil {
		return nil, fmt.Errorf("encode SDK snapshot of %q: %w", env, err)
	}
	var gz bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&gz)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("compress SDK snapshot of %q: %w", env, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress SDK snapshot of %q: %w", env, err)
	}
	// The encoded document starts as the shared copy, for the readers that
	// come before the next garbage collection.
	wp := weak.Make(&sdkBody{json: body})
	return &sdkPayload{seq: set.auditSeq, version: set.auditSeq, sum: sum, gz: bytes.Clone(gz.Bytes()),
		etag: `"` + strconv.FormatInt(set.auditSeq, 10) + `"`, mu: &sync.Mutex{}, body: &wp}, nil
}

// sdkFile reduces the configuration to what evaluating env needs. Every
// flag stays (one without a state in env evaluates as disabled, as on the
// server); descriptive fields and other environments go.
func sdkFile(cfg *store.Config, env string) (*flagmodel.File, map[string]int64) {
	full := plan.FileOf(cfg, env)
	out := &flagmodel.File{}
	for _, e := range full.Environments {
		// Private attributes and the property allow-list let SDKs keep
		// what the intake would not store from ever leaving the application;
		// the holdout changes what evaluation serves, so SDKs must apply it
		// exactly as the server does.
		out.Environments = append(out.Environments, flagmodel.Environment{Key: e.Key, PrivateAttributes: e.PrivateAttributes,
			EventProperties: e.EventProperties, Holdout: e.Holdout})
	}
	for _, sg := range full.Segments {
		sg.Description = ""
		out.Segments = append(out.Segments, sg)
	}
	versions := map[string]int64{}
	for _, fl := range full.Flags {
		min := flagmodel.Flag{Key: fl.Key, Type: fl.Type, Variants: fl.Variants}
		if st := fl.Environments[env]; st != nil {
			s := *st
			if len(s.Rules) > 0 {
				s.Rules = append([]flagmodel.Rule(nil), s.Rules...)
				for i := range s.Rules {
					s.Rules[i].Description = ""
				}
			}
			min.Environments = map[string]*flagmodel.FlagState{env: &s}
			versions[fl.Key] = st.Version
		}
		out.Flags = append(out.Flags, min)
	}
	return out, versions
}

// ifNoneMatch reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 asks for GET).
func ifNoneMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (s *Server) sdkSnapshot(w http.ResponseWriter, r *http.Request) error {
	key, err := s.authorizeSDK(r)
	if err != nil {
		return err
	}
	p, err := s.sdkPayload(key.Env)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", p.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Authorization, X-API-Key, Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && ifNoneMatch(inm, p.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(p.gz)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(p.gz)
		return nil
	}
	doc, err := p.document()
	if err != nil {
		return err
	}
	h.Set("Content-Length", strconv.Itoa(len(doc.json)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.json)
	runtime.KeepAlive(doc) // the weak pointer follows doc, not its bytes
	return nil
}

// gzipWriters keeps gzip writers at the fastest level between changes: a
// new one allocates about a megabyte of compressor state, garbage that made
// the collector run during a change's fan-out to the streams.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the level is valid
	return zw
}}

// acceptsGzip reports whether an Accept-Encoding header admits gzip: it
// names gzip (or x-gzip) without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" {
			continue
		}
		for _, param := range strings.Split(params, ";") {
			name, value, _ := strings.Cut(param, "=")
			if strings.TrimSpace(name) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// sdkStream serves GET /sdk/v1/stream: the current snapshot unless the
// client's Last-Event-ID already names it, then a snapshot after every
// change to the environment and a comment every heartbeat.
func (s *Server) sdkStream(w http.ResponseWriter, r *http.Request) {
	const pattern = "GET /sdk/v1/stream"
	status := http.StatusOK
	defer func() { s.metrics.requests.WithLabelValues(pattern, strconv.Itoa(status)).Inc() }()
	fail := func(err error) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.writeError(rec, r, err)
		status = rec.status
	}
	key, err := s.authorizeSDK(r)
	if err != nil {
		fail(err)
		return
	}
	p, err := s.sdkPayload(key.Env)
	if err != nil {
		fail(err)
		return
	}
	sub, ok := s.sdk.subscribe()
	if !ok {
		fail(&requestError{status: http.StatusServiceUnavailable, msg: "the server is shutting down"})
		return
	}
	defer s.sdk.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // ask reverse proxies not to buffer
	w.WriteHeader(http.StatusOK)

	// Events are written straight to the response, never copied into a
	// per-stream buffer: a snapshot can be megabytes and every stream
	// shares the same encoded bytes.
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(sdkWriteTimeout))
		if write() != nil {
			return false
		}
		return rc.Flush() == nil
	}
	comment := func(text string) func() error {
		return func() error { _, err := io.WriteString(w, text); return err }
	}
	sent := int64(-1)
	if last, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get("Last-Event-ID")), 10, 64); err == nil {
		sent = last
	}
	var held *sdkBody // see snapshotEvent
	first := comment(": up to date\n\n")
	if sent != p.version {
		first = snapshotEvent(w, p, &held)
		sent = p.version
	}
	if !send(first) {
		return
	}
	ping := time.NewTicker(s.sdk.heartbeat)
	defer ping.Stop()
	for {
		var next func() error
		select {
		case <-r.Context().Done():
			return
		case <-s.sdk.stop:
			return
		case <-ping.C:
			next = comment(": ping\n\n")
		case <-sub.notify:
			p, err := s.sdkPayload(key.Env)
			if err != nil {
				// The environment was deleted, or the configuration
				// cannot be encoded: end the stream; the client retries.
				s.log.Warn("ending an SDK stream", "env", key.Env, "error", err.Error())
				return
			}
			if p.version == sent {
				continue
			}
			next = snapshotEvent(w, p, &held)
			sent = p.version
		}
		if !send(next) {
			return
		}
	}
}

// snapshotEvent returns a writer of one SSE event. The JSON body has no
// newline, so it fits one data line. The document it wrote stays in *held:
// a connected stream keeps the latest snapshot's decompressed copy alive,
// so a change's fan-out decompresses it once, however often the garbage
// collector runs meanwhile; an idle server holds only the compressed bytes.
func snapshotEvent(w io.Writer, p *sdkPayload, held **sdkBody) func() error {
	return func() error {
		doc, err := p.document() // held until written, so other streams share it
		if err != nil {
			return err
		}
		*held = doc
		head := "event: snapshot\nid: " + strconv.FormatInt(p.version, 10) + "\ndata: "
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		_, err = w.Write(doc.json)
		runtime.KeepAlive(doc) // the weak pointer follows doc, not its bytes
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "\n\n")
		return err
	}
}
