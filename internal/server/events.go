package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/store"
)

// This file is the event intake's HTTP side:
//
//	POST /events/v1/batch                          an SDK key sends a batch of its environment's events
//	GET  /api/v1/environments/{env}/events/stats   counts of stored events, and of this process's intake
//	GET  /api/v1/environments/{env}/events/tail    stored events as they arrive (Server-Sent Events)
//
// A batch is read (gzip or identity, bounded before and after
// decompression), decoded strictly, clock-corrected and validated here; an
// invalid batch is refused whole with every problem listed. The SDK key's
// bucket is charged one token per event. The ingest pipeline then
// tokenizes units, filters properties and stores the batch; 202 is sent
// only once it is durable.

// Intake is what the event routes need from the ingest pipeline.
type Intake interface {
	Submit(ctx context.Context, env *flagmodel.Environment, b *event.Batch, received time.Time) (ingest.Receipt, error)
	// Full reports that Submit would refuse any batch for now.
	Full() bool
	Subscribe(env string, buffer int) *ingest.Subscription
}

// EventStats reads statistics of stored events.
type EventStats interface {
	EventStats(ctx context.Context, env string, from, to time.Time) (store.EventStats, error)
}

const eventBatchPath = "/events/v1/batch"

// Defaults of the intake's options.
const (
	defaultMaxEventBody    = 4 << 20
	defaultMaxEventDecoded = 32 << 20
	defaultEventsPerSecond = 100_000
	defaultEventBurst      = 200_000
	// queueFullRetryAfter is what a 429 for a full queue advises: a full
	// queue drains within about a second at the store's usual pace.
	queueFullRetryAfter = time.Second
	// decodeWait is how long a batch may wait for a decoding slot before
	// it is refused with 429.
	decodeWait = 500 * time.Millisecond
	// defaultStatsWindow is the stats window when none is given.
	defaultStatsWindow = 24 * time.Hour
	// tailBuffer is each tail's buffer, in events.
	tailBuffer = 1024
)

var (
	errIntakeOff = &requestError{status: http.StatusServiceUnavailable,
		msg: "the event intake is not running on this server"}
	errUnsupportedEncoding = &requestError{status: http.StatusUnsupportedMediaType,
		msg: "Content-Encoding must be gzip or identity"}
)

// intake is the state of the event routes.
type intake struct {
	pipeline   Intake
	stats      EventStats
	limits     event.Limits
	maxBody    int64
	maxDecoded int64
	limiter    *keyLimiter
	started    time.Time
	// names interns the strings every event repeats (see decodeBatchFast).
	names *nameTable
	// decoding bounds the batches being read and decoded at once: the
	// queue bounds what waits to be stored, this bounds what is on its
	// way there, whatever the number of connections.
	decoding chan struct{}

	byEnv    sync.Map // env → *envIntake
	batches  [numOutcomes]prometheus.Counter
	events   [numOutcomes]prometheus.Counter
	duration prometheus.Histogram
}

// outcome is what became of one posted batch. Each has a fixed result and
// reason label, so the metrics' cardinality is fixed.
type outcome int

const (
	outcomeStored outcome = iota
	outcomeDuplicate
	outcomeInvalid
	outcomeTooLarge
	outcomeUnsupported
	outcomeQuota
	outcomeQueueFull
	outcomeBusy
	outcomeFailed
	numOutcomes
)

var outcomeLabels = [numOutcomes]struct{ result, reason string }{
	outcomeStored:      {"accepted", "stored"},
	outcomeDuplicate:   {"accepted", "duplicate"},
	outcomeInvalid:     {"rejected", "invalid"},
	outcomeTooLarge:    {"rejected", "too_large"},
	outcomeUnsupported: {"rejected", "unsupported_encoding"},
	outcomeQuota:       {"throttled", "quota"},
	outcomeQueueFull:   {"throttled", "queue_full"},
	outcomeBusy:        {"throttled", "busy"},
	outcomeFailed:      {"failed", "error"},
}

// envIntake counts one environment's intake outcomes since the process
// started. It is bounded by the number of environments SDK keys name.
type envIntake struct {
	batches [numOutcomes]atomic.Int64
	events  [numOutcomes]atomic.Int64
}

func (s *Server) newIntake(opts Options) (*intake, error) {
	in := &intake{
		pipeline:   opts.Intake,
		stats:      opts.EventStats,
		limits:     opts.EventLimits,
		maxBody:    opts.MaxEventBodyBytes,
		maxDecoded: opts.MaxEventDecodedBytes,
		started:    time.Now(),
		decoding:   make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))),
		names:      &nameTable{names: map[string]string{}},
	}
	if in.limits == (event.Limits{}) {
		in.limits = event.DefaultLimits()
	}
	if in.maxBody <= 0 {
		in.maxBody = defaultMaxEventBody
	}
	if in.maxDecoded <= 0 {
		in.maxDecoded = defaultMaxEventDecoded
	}
	limit := opts.EventRateLimit
	in.limiter = newKeyLimiter(limit, RateLimit{PerSecond: defaultEventsPerSecond, Burst: defaultEventBurst})
	// A bucket smaller than a batch would refuse full batches forever.
	in.limiter.burst = max(in.limiter.burst, float64(in.limits.MaxEvents))
	batches := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_event_intake_batches_total",
		Help: "Event batches posted to the intake, by result (accepted, rejected, throttled, failed) and reason."}, []string{"result", "reason"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_event_intake_events_total",
		Help: "Events in batches posted to the intake, by result and reason (0 for batches refused before decoding)."}, []string{"result", "reason"})
	in.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_event_intake_duration_seconds",
		Help:    "Time from receiving an accepted batch's request to its durable storage.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)})
	for o := range numOutcomes {
		l := outcomeLabels[o]
		in.batches[o] = batches.WithLabelValues(l.result, l.reason)
		in.events[o] = events.WithLabelValues(l.result, l.reason)
	}
	for _, c := range []prometheus.Collector{batches, events, in.duration} {
		if err := s.registry.Register(c); err != nil {
			return nil, fmt.Errorf("server: register intake metrics: %w", err)
		}
	}
	return in, nil
}

// record counts one batch's outcome, in the metrics and for its
// environment.
func (in *intake) record(env string, o outcome, events int) {
	in.batches[o].Inc()
	in.events[o].Add(float64(events))
	v, ok := in.byEnv.Load(env)
	if !ok {
		v, _ = in.byEnv.LoadOrStore(env, &envIntake{})
	}
	c := v.(*envIntake)
	c.batches[o].Add(1)
	c.events[o].Add(int64(events))
}

func (s *Server) registerEvents() {
	s.handle("POST", eventBatchPath, false, s.postEventBatch)
	s.handle("GET", "/api/v1/environments/{env}/events/stats", true, s.eventStats)
	// Tails bypass handle for the reasons SDK streams do (sdksync.go).
	s.routes = append(s.routes, route{"GET", "/api/v1/environments/{env}/events/tail"})
	s.mux.HandleFunc("GET /api/v1/environments/{env}/events/tail", s.eventTail)
}

// batchResponse is the body of 202 Accepted.
type batchResponse struct {
	// Accepted is the number of events in the batch, now stored.
	Accepted int `json:"accepted"`
	// Duplicate is true when the batch's id was stored before: nothing
	// was stored again.
	Duplicate bool `json:"duplicate"`
	// DroppedProperties counts track properties the environment does not
	// allow, which were not stored.
	DroppedProperties int `json:"droppedProperties,omitempty"`
}

func (s *Server) postEventBatch(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	key, err := s.authorizeSDK(r)
	if err != nil {
		return err
	}
	in := s.intake
	if in.pipeline == nil {
		return errIntakeOff
	}
	env, err := s.sdkEnvironment(key.Env)
	if err != nil {
		return err
	}
	// An empty bucket or a full queue refuses before the body is read or
	// decoded: under overload, refusing must be cheap.
	if ok, wait := in.limiter.available(key.ID, start); !ok {
		in.record(env.Key, outcomeQuota, 0)
		return quotaError(wait)
	}
	if in.pipeline.Full() {
		in.record(env.Key, outcomeQueueFull, 0)
		return ingest.ErrQueueFull
	}
	b, received, o, err := in.decode(r, key.ID)
	n := 0
	if b != nil {
		n = len(b.Events)
	}
	if err != nil {
		in.record(env.Key, o, n)
		return err
	}
	receipt, err := in.pipeline.Submit(r.Context(), env, b, received)
	if err != nil {
		if errors.Is(err, ingest.ErrQueueFull) {
			in.limiter.refund(key.ID, float64(n))
			in.record(env.Key, outcomeQueueFull, n)
		} else {
			in.record(env.Key, outcomeFailed, n)
		}
		return err
	}
	o = outcomeStored
	if receipt.Duplicate {
		o = outcomeDuplicate
	}
	in.record(env.Key, o, n)
	in.duration.Observe(time.Since(start).Seconds())
	writeJSON(w, http.StatusAccepted, batchResponse{Accepted: n, Duplicate: receipt.Duplicate, DroppedProperties: receipt.DroppedProperties})
	return nil
}

var errBusy = &requestError{status: http.StatusTooManyRequests, retryAfter: time.Second,
	msg: "the intake is reading as many batches as it may; send the batch again after the Retry-After delay"}

// decode reads, decodes, clock-corrects and validates a batch and charges
// its events to the key's bucket, holding one of the decoding slots. On
// failure it returns the outcome to record, and the batch when it got as
// far as decoding it.
func (in *intake) decode(r *http.Request, keyID string) (*event.Batch, time.Time, outcome, error) {
	select {
	case in.decoding <- struct{}{}:
	default:
		t := time.NewTimer(decodeWait)
		select {
		case in.decoding <- struct{}{}:
			t.Stop()
		case <-t.C:
			return nil, time.Time{}, outcomeBusy, errBusy
		case <-r.Context().Done():
			t.Stop()
			return nil, time.Time{}, outcomeFailed, r.Context().Err()
		}
	}
	defer func() { <-in.decoding }()
	buf := getEventBuffer()
	defer putEventBuffer(buf)
	if err := in.readBody(r, buf); err != nil {
		return nil, time.Time{}, rejection(err), err
	}
	b, ok := decodeBatchFast(buf.Bytes(), in.limits, in.names)
	if !ok {
		var err error
		if b, err = event.Decode(bytes.NewReader(buf.Bytes()), in.limits); err != nil {
			return nil, time.Time{}, rejection(err), err
		}
	}
	received := time.Now()
	b.CorrectClock(received)
	if err := event.Validate(b, received, in.limits); err != nil {
		return b, received, outcomeInvalid, err
	}
	if ok, wait := in.limiter.allowN(keyID, float64(len(b.Events)), received); !ok {
		return b, received, outcomeQuota, quotaError(wait)
	}
	return b, received, 0, nil
}

// rejection classifies an error of reading or decoding a batch.
func rejection(err error) outcome {
	var re *requestError
	switch {
	case errors.Is(err, event.ErrTooLarge):
		return outcomeTooLarge
	case errors.As(err, &re) && re.status == http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case errors.As(err, &re) && re.status == http.StatusUnsupportedMediaType:
		return outcomeUnsupported
	}
	return outcomeInvalid
}

func quotaError(wait time.Duration) error {
	return &requestError{status: http.StatusTooManyRequests, retryAfter: wait,
		msg: "this SDK key exceeded its event rate; send the batch again after the Retry-After delay"}
}

// sdkEnvironment returns the settings of an SDK key's environment from the
// served configuration, which is never modified once published.
func (s *Server) sdkEnvironment(env string) (*flagmodel.Environment, error) {
	set := s.snapshots.Load()
	if set == nil {
		return nil, errSnapshotsNotLoaded
	}
	for i := range set.cfg.Environments {
		if e := &set.cfg.Environments[i].Value; e.Key == env {
			return e, nil
		}
	}
	return nil, errSDKEnvironmentGone
}

// readBody reads a batch into buf, decompressing gzip, and enforces both
// size limits: handle bounds the body as sent, and the decompressed bytes
// are bounded here, so a small gzip bomb cannot fill memory.
func (in *intake) readBody(r *http.Request, buf *bytes.Buffer) error {
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := getGzipReader(r.Body)
		if err != nil {
			return bodyError(err, true)
		}
		defer putGzipReader(zr)
		src = zr
	default:
		return errUnsupportedEncoding
	}
	n, err := buf.ReadFrom(io.LimitReader(src, in.maxDecoded+1))
	if err != nil {
		return bodyError(err, src != r.Body)
	}
	if n > in.maxDecoded {
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("the batch is larger than %d bytes once decompressed", in.maxDecoded)}
	}
	return nil
}

func bodyError(err error, gzipped bool) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &requestError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case gzipped:
		return badRequest("", "the body is not valid gzip: "+err.Error())
	}
	return badRequest("", "reading the body: "+err.Error())
}

// Event bodies are read into pooled buffers; buffers that grew past
// maxPooledEventBuffer are dropped, so one large batch does not pin memory.
var eventBufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledEventBuffer = 1 << 20

func getEventBuffer() *bytes.Buffer { return eventBufferPool.Get().(*bytes.Buffer) }

func putEventBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledEventBuffer {
		return
	}
	b.Reset()
	eventBufferPool.Put(b)
}

// gzip readers hold tens of kilobytes of decompressor state: reuse them.
var gzipPool sync.Pool

func getGzipReader(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := gzipPool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			gzipPool.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

func putGzipReader(zr *gzip.Reader) {
	zr.Close()
	gzipPool.Put(zr)
}
