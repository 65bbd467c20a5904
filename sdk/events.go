package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirhq/weir/event"
)

// ErrInvalidEvent wraps the reasons Track refused an event: a name or unit
// the intake would reject, a value that is not a finite number, a property
// that is not a string, a number or a boolean. Such events are not
// recorded (EventStats.Invalid counts them).
var ErrInvalidEvent = errors.New("invalid track event")

// ErrBufferFull means an event was dropped because the client already
// holds as many events as WithEventBufferSize allows, typically because
// the intake is slow or unreachable. EventStats.Dropped counts it, and the
// next batch tells the intake.
var ErrBufferFull = errors.New("the event buffer is full")

// ErrClosed means an event was dropped because the client is closed.
var ErrClosed = errors.New("the client is closed")

// DefaultCloseTimeout bounds Close's delivery of the events still
// buffered when its ctx has no deadline.
const DefaultCloseTimeout = 10 * time.Second

// EventStats counts a client's events since New. Every recorded event is
// eventually sent, rejected or dropped, and pending until then, so at any
// quiet moment Recorded = Sent + Rejected + Dropped + Pending.
type EventStats struct {
	// Enabled is false when the client records no events (WithEvents(false)
	// or WithOffline).
	Enabled bool
	// Recorded counts exposures (once per de-duplication window) and
	// track events.
	Recorded int64
	// Sent counts events the intake stored.
	Sent int64
	// Rejected counts events of batches the intake refused as invalid
	// (400); they are not retried.
	Rejected int64
	// Dropped counts events lost otherwise: the buffer was full, the
	// client was closed, Close's deadline passed first, the intake found
	// a single event too large or refused the SDK key, or an exposure could
	// not be described (a flag version unknown to the server, as with a
	// flags-file bootstrap; a unit longer than the intake accepts).
	Dropped int64
	// Pending counts events buffered or being delivered.
	Pending int64
	// Invalid counts Track calls refused with ErrInvalidEvent. They are
	// not part of Recorded.
	Invalid int64
	// Err is why the client stopped sending events — the intake refused
	// the SDK key (it wraps ErrUnauthorized) — or nil.
	Err error
}

// EventStats returns the client's event counts.
func (c *Client) EventStats() EventStats {
	if c == nil || c.ev == nil {
		return EventStats{}
	}
	return c.ev.stats()
}

// TrackOption adds to a track event.
type TrackOption func(*trackOptions)

type trackOptions struct {
	value      *float64
	properties map[string]any
}

// WithValue gives a track event a numeric value, such as an order's
// amount, for metrics that sum or average values.
func WithValue(v float64) TrackOption { return func(o *trackOptions) { o.value = &v } }

// WithProperties adds properties to a track event: names to strings,
// numbers (sent as float64) or booleans. Properties named after one of the
// environment's private attributes are never sent; when the snapshot
// carries the environment's allow-list (eventProperties), only the
// properties it lists are sent. The map is copied; it may be reused.
func WithProperties(props map[string]any) TrackOption {
	return func(o *trackOptions) {
		if o.properties == nil {
			o.properties = make(map[string]any, len(props))
		}
		for k, v := range props {
			o.properties[k] = v
		}
	}
}

// Track records that unit (a user, an account, a device: the value the
// experiment's split buckets by) did the metric event name, to be sent
// with the next batch. It never blocks on the network.
//
// Track returns nil when the event is recorded, or when the client records
// no events (WithEvents(false), WithOffline). Otherwise it says why the
// event was not recorded: ErrInvalidEvent (wrapped, with the reasons),
// ErrBufferFull, ErrClosed, or ErrUnauthorized once the intake refused the
// SDK key. Before the first snapshot the client does not know which
// properties the environment allows, and sends none.
func (c *Client) Track(name, unit string, opts ...TrackOption) error {
	if c == nil || c.ev == nil {
		return nil
	}
	var o trackOptions
	for _, opt := range opts {
		opt(&o)
	}
	now := time.Now().UTC()
	ev := event.Event{Kind: event.KindTrack, Time: now, Unit: unit, Name: name, Value: o.value}
	var p *privacy
	if st := c.cur.Load(); st != nil {
		p = &st.privacy
	}
	props, err := sendableProperties(o.properties, p)
	if err == nil {
		ev.Properties = props
		err = event.Validate(&event.Batch{ID: "track", Events: []event.Event{ev}}, now, event.DefaultLimits())
	}
	if err != nil {
		c.ev.invalid.Add(1)
		return fmt.Errorf("%w %q: %s", ErrInvalidEvent, name, reasons(err))
	}
	return c.ev.add(ev)
}

// sendableProperties returns the properties that may leave the
// application, as the intake reads them. p is nil before the first
// snapshot, when the environment's rules are unknown: nothing is sent.
func sendableProperties(in map[string]any, p *privacy) (map[string]any, error) {
	if len(in) == 0 || p == nil {
		return nil, nil
	}
	var out map[string]any
	for k, v := range in {
		if p.private[k] || (p.allowed != nil && !p.allowed[k]) {
			continue
		}
		pv, ok := propertyValue(v)
		if !ok {
			return nil, fmt.Errorf("property %q is a %T; a property is a string, a number or a boolean", k, v)
		}
		if out == nil {
			out = make(map[string]any, len(in))
		}
		out[k] = pv
	}
	return out, nil
}

// propertyValue converts a property to the JSON type the intake reads
// back: numbers become float64.
func propertyValue(v any) (any, bool) {
	switch x := v.(type) {
	case string, bool, float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return nil, false
}

// reasons lists a validation error's problems without the batch envelope
// Track validated the event in.
func reasons(err error) string {
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	msgs := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "; ")
}

// maxFreeChunks bounds the emptied batches kept for reuse: one is being
// filled while another is in flight, so two make recording allocation-free
// in steady state without keeping a whole burst's memory for ever.
const maxFreeChunks = 2

// events records exposures and track events into a bounded buffer of
// batch-sized chunks, and owns the goroutine that sends them (see
// sender.go) and the clock of exposure de-duplication (see exposure.go).
type events struct {
	// De-duplication of exposures: the table is made on the first
	// exposure, so clients of flags without experiments pay nothing.
	table      atomic.Pointer[dedupTable]
	tableMu    sync.Mutex // serializes making the table and its clock
	window     time.Duration
	clockStop  chan struct{}
	clockDone  chan struct{} // nil until the clock runs
	clockEnded bool          // Close stopped the clock (or it never ran)

	mu        sync.Mutex
	cur       []event.Event   // the chunk being filled, or nil
	full      [][]event.Event // full chunks waiting, oldest first
	free      [][]event.Event // emptied chunks for reuse
	held      int             // events in cur, full and in flight
	closed    bool
	batchSize int
	capacity  int
	wake      chan struct{} // a chunk is full, or the buffer got its first event

	recorded, sent, rejected, dropped, invalid atomic.Int64
	// unreported counts losses no batch has carried to the intake yet.
	unreported    atomic.Int64
	refused       atomic.Pointer[error]
	privateWarned atomic.Bool

	url        string
	key        string
	httpClient *http.Client
	logger     *slog.Logger
	interval   time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	timeout    time.Duration

	drain  chan struct{} // closed by close: send everything, then stop
	cancel context.CancelFunc
	done   chan struct{} // closed when the sender has stopped
	// cut counts events Close's deadline cut off; only the sender writes
	// it, close reads it after done.
	cut int64
}

func newEvents(key string, o *options) *events {
	return &events{
		window:     o.dedupWindow,
		clockStop:  make(chan struct{}),
		batchSize:  min(o.batchSize, o.bufferSize),
		capacity:   o.bufferSize,
		wake:       make(chan struct{}, 1),
		url:        o.eventsURL + "/events/v1/batch",
		key:        key,
		httpClient: o.httpClient,
		logger:     o.logger,
		interval:   o.flushInterval,
		backoffMin: o.backoffMin,
		backoffMax: o.backoffMax,
		timeout:    o.requestTimeout,
		drain:      make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// start runs the sender until close. ctx carries values only.
func (e *events) start(ctx context.Context) {
	ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go e.run(ctx)
}

// add buffers ev, or drops it and says why.
func (e *events) add(ev event.Event) error {
	e.recorded.Add(1)
	if errp := e.refused.Load(); errp != nil {
		e.lose(1, 0)
		return *errp
	}
	e.mu.Lock()
	if e.closed || e.held >= e.capacity {
		closed := e.closed
		e.mu.Unlock()
		e.lose(1, 0)
		if closed {
			return ErrClosed
		}
		return ErrBufferFull
	}
	if e.cur == nil {
		if n := len(e.free); n > 0 {
			e.cur, e.free = e.free[n-1], e.free[:n-1]
		} else {
			e.cur = make([]event.Event, 0, e.batchSize)
		}
	}
	e.cur = append(e.cur, ev)
	e.held++
	signal := e.held == 1
	if len(e.cur) == e.batchSize {
		e.full = append(e.full, e.cur)
		e.cur = nil
		signal = true
	}
	e.mu.Unlock()
	if signal {
		select {
		case e.wake <- struct{}{}:
		default: // the sender is already woken
		}
	}
	return nil
}

// dropNew records an event that cannot be sent at all.
func (e *events) dropNew() {
	e.recorded.Add(1)
	e.lose(1, 0)
}

// lose counts n events dropped, and carried drops a dropped batch was
// reporting: the next batch reports them all.
func (e *events) lose(n int, carried int64) {
	e.dropped.Add(int64(n))
	e.unreported.Add(int64(n) + carried)
}

// take removes the oldest full chunk from the buffer, or, when partial is
// set and none is full, the chunk being filled. The events stay counted
// in held until release.
func (e *events) take(partial bool) []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.full) > 0 {
		c := e.full[0]
		copy(e.full, e.full[1:])
		e.full[len(e.full)-1] = nil
		e.full = e.full[:len(e.full)-1]
		return c
	}
	if partial && len(e.cur) > 0 {
		c := e.cur
		e.cur = nil
		return c
	}
	return nil
}

// release ends a taken chunk's delivery and keeps it for reuse.
func (e *events) release(c []event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.held -= len(c)
	clear(c) // drop references to units and properties
	if len(e.free) < maxFreeChunks {
		e.free = append(e.free, c[:0])
	}
}

// waiting reports whether the sender has something to send: buffered
// events, or losses to report.
func (e *events) waiting() bool {
	if e.refused.Load() != nil {
		return false
	}
	e.mu.Lock()
	held := e.held
	e.mu.Unlock()
	return held > 0 || e.unreported.Load() > 0
}

// abandon drops everything still buffered and closes the buffer; the
// sender calls it when it stops, or when the intake refused the key. It
// returns how many events it dropped.
func (e *events) abandon() int {
	e.mu.Lock()
	n := e.held
	clear(e.cur)
	for _, c := range e.full {
		clear(c)
	}
	e.cur, e.full, e.free, e.held, e.closed = nil, nil, nil, 0, true
	e.mu.Unlock()
	e.lose(n, 0)
	return n
}

// refuse stops sending for good: the intake refused the SDK key.
func (e *events) refuse(err error) {
	if e.refused.CompareAndSwap(nil, &err) {
		e.logger.Error("weir sdk: the event intake refused the SDK key; events are dropped from now on", "error", err.Error())
	}
}

func (e *events) stats() EventStats {
	s := EventStats{Enabled: true}
	// Outcomes first, then Recorded: an event is recorded before its
	// outcome, so Pending is never negative in between.
	s.Sent, s.Rejected, s.Dropped = e.sent.Load(), e.rejected.Load(), e.dropped.Load()
	s.Invalid = e.invalid.Load()
	e.mu.Lock()
	s.Pending = int64(e.held)
	e.mu.Unlock()
	s.Recorded = e.recorded.Load()
	if errp := e.refused.Load(); errp != nil {
		s.Err = *errp
	}
	return s
}

// close stops recording, lets the sender deliver what is buffered until
// ctx is done, and stops the sender and the clock.
func (e *events) close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	close(e.drain)
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel() // ends the request in flight and any wait before a retry
		<-e.done
	}
	e.cancel()
	e.stopClock()
	if e.cut > 0 {
		return fmt.Errorf("sdk: close: %d events were not delivered: %w", e.cut, context.Cause(ctx))
	}
	return nil
}
