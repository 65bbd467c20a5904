package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// ErrNotReady is reported by evaluations before the client has any
// snapshot (their ErrorMessage is its text), and by New and WaitReady when
// none arrived in time.
var ErrNotReady = errors.New("flag configuration not loaded yet (provider not ready)")

// ErrUnauthorized means the server refused the SDK key (unknown, revoked,
// or not an SDK key). The client stops syncing: retrying will not help.
var ErrUnauthorized = errors.New("the server refused the SDK key")

// Status is the client's sync state.
type Status int32

// Statuses.
const (
	// StatusNotReady: no snapshot yet; evaluations return defaults.
	StatusNotReady Status = iota
	// StatusReady: serving a snapshot and connected to the server.
	StatusReady
	// StatusStale: serving the last known good snapshot (or a cached or
	// bootstrap one) while the server is unreachable or has not answered
	// yet; the client keeps retrying.
	StatusStale
	// StatusOffline: serving a bootstrap or cached snapshot by choice
	// (WithOffline).
	StatusOffline
	// StatusError: the server refused the SDK key; the client serves what
	// it has (if anything) and no longer syncs.
	StatusError
)

var statusNames = [...]string{"NOT_READY", "READY", "STALE", "OFFLINE", "ERROR"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

// ChangeKind says what a Change reports.
type ChangeKind uint8

// Change kinds.
const (
	// ChangeSnapshot: a new snapshot is being served.
	ChangeSnapshot ChangeKind = iota + 1
	// ChangeStatus: Status changed.
	ChangeStatus
)

// Change is passed to OnChange listeners.
type Change struct {
	Kind        ChangeKind
	Status      Status
	Environment string
	// Version is the served snapshot's version (0 for a flags-file
	// bootstrap or before any snapshot).
	Version int64
	// Err explains a change to StatusStale or StatusError.
	Err error
}

// Details is an evaluation's value with the full result: reason, variant,
// rule, flag version and error. Value is the caller's default whenever the
// flag serves no value of the requested type; Result.Value is what the
// flag served, if anything.
type Details[T any] struct {
	Value T
	eval.Result
}

// NotReady reports whether the evaluation failed because the client had no
// snapshot yet.
func (d *Details[T]) NotReady() bool {
	return d.Reason == eval.ReasonError && d.ErrorCode == eval.ErrorGeneral && d.ErrorMessage == notReadyMessage
}

var notReadyMessage = ErrNotReady.Error()

var notReadyResult = eval.Result{Reason: eval.ReasonError, ErrorCode: eval.ErrorGeneral, RuleIndex: -1, ErrorMessage: notReadyMessage}

// Client evaluates flags locally against the latest snapshot of its SDK
// key's environment, which it keeps in sync with the server in the
// background. Evaluation never blocks and never allocates for the
// benchmarked flag shapes. A Client is safe for concurrent use; Close it
// when done.
type Client struct {
	key   string
	o     options
	cache string // cache file path, or ""

	cur    atomic.Pointer[state]
	status atomic.Int32

	applyMu sync.Mutex // serializes snapshot replacement

	listenMu  sync.Mutex
	listeners map[int]listener
	nextID    int
	// changes numbers state changes as they happen, before readiness is
	// announced: a listener hears only changes numbered after it
	// registered, so one registered once New has returned never hears the
	// first snapshot's READY, however late that is delivered.
	changes atomic.Uint64

	ready     chan struct{}
	readyOnce sync.Once

	cancel    context.CancelFunc
	done      chan struct{} // closed when the sync goroutine has stopped
	closeOnce sync.Once
	closeErr  error
	fatal     atomic.Pointer[error]

	ev *events // nil when the client records no events
}

// New creates a client for sdkKey and starts syncing in the background
// (unless WithOffline). It starts from the cached snapshot (WithCacheDir)
// or the bootstrap (WithBootstrap), when either is present and valid.
//
// With WithInitTimeout(d), New waits up to d for a snapshot; if none came,
// it returns the client together with an error wrapping ErrNotReady (or
// ErrUnauthorized): the client is usable and keeps trying, and must be
// closed. Other errors (invalid options, an unreadable bootstrap file, an
// offline client with nothing to serve) come with a nil client.
//
// ctx bounds only New's own wait; the background sync runs until Close.
func New(ctx context.Context, sdkKey string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	o.baseURL = strings.TrimRight(o.baseURL, "/")
	if o.eventsURL == "" {
		o.eventsURL = o.baseURL
	}
	o.eventsURL = strings.TrimRight(o.eventsURL, "/")
	if !o.offline {
		if sdkKey == "" {
			return nil, errors.New("sdk: an SDK key is required")
		}
		if !isHTTP(o.baseURL) {
			return nil, fmt.Errorf("sdk: base URL %q is not http(s)", o.baseURL)
		}
		if o.events && !isHTTP(o.eventsURL) {
			return nil, fmt.Errorf("sdk: events base URL %q is not http(s)", o.eventsURL)
		}
	}
	c := &Client{key: sdkKey, o: o, listeners: map[int]listener{}, ready: make(chan struct{}), done: make(chan struct{})}
	if o.cacheDir != "" && sdkKey != "" {
		if err := os.MkdirAll(o.cacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("sdk: cache directory: %w", err)
		}
		c.cache = cacheFile(o.cacheDir, sdkKey)
	}
	if err := c.loadInitial(); err != nil {
		return nil, err
	}
	if o.offline {
		close(c.done)
		if c.cur.Load() == nil {
			return nil, errors.New("sdk: offline without a bootstrap or cached snapshot")
		}
		c.status.Store(int32(StatusOffline))
		if o.events {
			o.logger.Info("weir sdk: offline: exposures and track events are neither recorded nor sent")
		}
		return c, nil
	}
	if c.cur.Load() != nil {
		// Serving a cached or bootstrap snapshot until the server confirms it.
		c.status.Store(int32(StatusStale))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.run(runCtx)
	if o.events {
		c.ev = newEvents(sdkKey, &c.o)
		c.ev.start(ctx)
	}
	if o.initTimeout > 0 && c.cur.Load() == nil {
		wctx, wcancel := context.WithTimeout(ctx, o.initTimeout)
		defer wcancel()
		if err := c.WaitReady(wctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

// loadInitial serves the cached snapshot, or else the bootstrap.
func (c *Client) loadInitial() error {
	if c.cache != "" {
		if data, err := os.ReadFile(c.cache); err == nil {
			if st, err := decodeSnapshot(data, c.o.environment); err == nil {
				c.publish(st)
				return nil
			} else {
				c.o.logger.Warn("weir sdk: ignoring an invalid cached snapshot", "error", err.Error())
			}
		}
	}
	data := c.o.bootstrap
	if c.o.bootstrapFile != "" {
		var err error
		if data, err = os.ReadFile(c.o.bootstrapFile); err != nil {
			return fmt.Errorf("sdk: bootstrap: %w", err)
		}
	}
	if len(data) == 0 {
		return nil
	}
	st, err := decodeBootstrap(data, c.o.environment)
	if err != nil {
		return fmt.Errorf("sdk: bootstrap: %w", err)
	}
	c.publish(st)
	return nil
}

// publish serves st. Callers hold applyMu or run before the client is
// shared.
func (c *Client) publish(st *state) {
	c.cur.Store(st)
	c.readyOnce.Do(func() { close(c.ready) })
}

// apply validates a snapshot document from the server and serves it. An
// invalid one, or one of another environment, is rejected and the current
// snapshot stays. It reports whether the served snapshot changed.
func (c *Client) apply(data []byte) (bool, error) {
	c.applyMu.Lock()
	cur := c.cur.Load()
	want := c.o.environment
	if want == "" && cur != nil {
		want = cur.env
	}
	st, err := decodeSnapshot(data, want)
	if err != nil {
		c.applyMu.Unlock()
		return false, err
	}
	if cur != nil && cur.version == st.version && cur.env == st.env && st.version != 0 {
		c.applyMu.Unlock()
		return false, nil
	}
	c.cur.Store(st)
	// The server just sent it: the client is current. The status is set
	// before readiness is announced, so a WaitReady caller sees READY.
	prev := Status(c.status.Swap(int32(StatusReady)))
	seq := c.changes.Add(2) // the snapshot seq-1, the status seq
	c.readyOnce.Do(func() { close(c.ready) })
	c.applyMu.Unlock()
	if c.cache != "" {
		if err := writeFileAtomic(c.cache, data); err != nil {
			c.o.logger.Warn("weir sdk: caching the snapshot failed", "error", err.Error())
		}
	}
	c.emit(seq-1, Change{Kind: ChangeSnapshot, Status: StatusReady, Environment: st.env, Version: st.version})
	if prev != StatusReady {
		c.emit(seq, Change{Kind: ChangeStatus, Status: StatusReady, Environment: st.env, Version: st.version})
	}
	return true, nil
}

// setStatus changes the status and tells listeners when it changed.
func (c *Client) setStatus(s Status, err error) {
	if Status(c.status.Swap(int32(s))) == s {
		return
	}
	seq := c.changes.Add(1)
	ch := Change{Kind: ChangeStatus, Status: s, Err: err}
	if st := c.cur.Load(); st != nil {
		ch.Environment, ch.Version = st.env, st.version
	}
	c.emit(seq, ch)
}

// listener is an OnChange function and the number of the last change
// before it registered.
type listener struct {
	fn    func(Change)
	since uint64
}

// emit tells the listeners that registered before change seq happened.
func (c *Client) emit(seq uint64, ch Change) {
	c.listenMu.Lock()
	fns := make([]func(Change), 0, len(c.listeners))
	for _, l := range c.listeners {
		if l.since < seq {
			fns = append(fns, l.fn)
		}
	}
	c.listenMu.Unlock()
	for _, fn := range fns {
		fn(ch)
	}
}

// OnChange registers fn to be called after every snapshot replacement and
// status change that happens after it registered (never one from before,
// such as the first snapshot's READY once New has returned), and returns a
// function that unregisters it. fn runs on
// the client's sync goroutine: it must return quickly (hand work to
// another goroutine if needed); it may call the client's methods.
func (c *Client) OnChange(fn func(Change)) (remove func()) {
	c.listenMu.Lock()
	defer c.listenMu.Unlock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = listener{fn: fn, since: c.changes.Load()}
	return func() {
		c.listenMu.Lock()
		defer c.listenMu.Unlock()
		delete(c.listeners, id)
	}
}

// Status returns the sync state.
func (c *Client) Status() Status { return Status(c.status.Load()) }

// Version returns the served snapshot's version and environment ("" before
// the first snapshot).
func (c *Client) Version() (version int64, environment string) {
	if st := c.cur.Load(); st != nil {
		return st.version, st.env
	}
	return 0, ""
}

// Snapshot returns the snapshot evaluations use now, or nil. It is
// immutable; Explain on it shows why a context gets its variant.
func (c *Client) Snapshot() *eval.Snapshot {
	if st := c.cur.Load(); st != nil {
		return st.snap
	}
	return nil
}

// WaitReady waits until the client has a snapshot, ctx is done, or the
// server refused the key.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	default:
	}
	select {
	case <-c.ready:
		return nil
	case <-c.done:
		if c.cur.Load() != nil {
			return nil
		}
		if e := c.fatal.Load(); e != nil {
			return *e
		}
		return ErrNotReady
	case <-ctx.Done():
		return fmt.Errorf("sdk: %w: %w", ErrNotReady, ctx.Err())
	}
}

func isHTTP(url string) bool {
	return strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")
}

// Close stops syncing, sends the events still buffered, and waits for the
// background goroutines to end. ctx bounds the delivery: when it is done
// first — or after DefaultCloseTimeout, when it has no deadline — the
// events not delivered yet are dropped and Close says how many. Later
// calls return the first call's result.
//
// Evaluations keep serving the last snapshot after Close; events they or
// Track record are dropped.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		<-c.done
		if c.ev != nil {
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, DefaultCloseTimeout)
				defer cancel()
			}
			c.closeErr = c.ev.close(ctx)
		}
	})
	return c.closeErr
}

// evaluate writes the result into *r: results are 80 bytes, and building
// them in place in the caller's Details saves copies that cost as much as
// a simple evaluation.
func (c *Client) evaluate(r *eval.Result, key string, typ flagmodel.ValueType, ctx *eval.Context) {
	if c == nil {
		*r = notReadyResult
		return
	}
	st := c.cur.Load()
	if st == nil {
		*r = notReadyResult
		return
	}
	// Same result as Snapshot.EvaluateAs, with one map lookup instead of
	// two (which cost ~20 ns, more than the rest of a simple evaluation) and
	// no allocation for TYPE_MISMATCH: the served value's Go type tells the
	// flag's type; only when there is no value of the wanted type is the
	// declared type looked up.
	st.snap.EvaluateInto(r, key, ctx)
	if valueType(r.Value) == typ || r.ErrorCode == eval.ErrorFlagNotFound {
		// The application uses the served value: when an experiment or a
		// guarded rollout chose it, the unit is exposed.
		if r.Allocation != nil && c.ev != nil && r.ErrorCode == 0 {
			c.ev.expose(st, key, r, ctx)
		}
		return
	}
	if have := st.snap.Type(key); have != typ && have != "" {
		*r = eval.Result{Reason: eval.ReasonError, ErrorCode: eval.ErrorTypeMismatch, RuleIndex: -1,
			Version: r.Version, ErrorMessage: mismatchMessage(have, typ)}
	}
}

// valueType is the flag type a served value belongs to ("" for none).
func valueType(v any) flagmodel.ValueType {
	switch v.(type) {
	case nil:
		return ""
	case bool:
		return flagmodel.TypeBoolean
	case string:
		return flagmodel.TypeString
	case float64:
		return flagmodel.TypeNumber
	default:
		return flagmodel.TypeObject
	}
}

// mismatchMessages holds eval's TYPE_MISMATCH messages, built once so that
// reporting a mismatch does not allocate.
var mismatchMessages = func() map[[2]flagmodel.ValueType]string {
	m := map[[2]flagmodel.ValueType]string{}
	for _, have := range flagmodel.ValueTypes {
		for _, want := range flagmodel.ValueTypes {
			m[[2]flagmodel.ValueType{have, want}] = "flag is of type " + string(have) + ", not " + string(want)
		}
	}
	return m
}()

func mismatchMessage(have, want flagmodel.ValueType) string {
	if m, ok := mismatchMessages[[2]flagmodel.ValueType{have, want}]; ok {
		return m
	}
	return "flag is of type " + string(have) + ", not " + string(want)
}

// Bool returns the value of boolean flag key for ctx, or def when the flag
// serves none (missing, wrong type, no snapshot yet, disabled without an
// off variant).
func (c *Client) Bool(key string, ctx *eval.Context, def bool) bool {
	d := c.BoolDetails(key, ctx, def)
	return d.Value
}

// BoolDetails is Bool with the evaluation's details.
func (c *Client) BoolDetails(key string, ctx *eval.Context, def bool) (d Details[bool]) {
	c.evaluate(&d.Result, key, flagmodel.TypeBoolean, ctx)
	v, ok := d.Result.Value.(bool)
	if !ok {
		v = def
	}
	d.Value = v
	return d
}

// String returns the value of string flag key for ctx, or def.
func (c *Client) String(key string, ctx *eval.Context, def string) string {
	d := c.StringDetails(key, ctx, def)
	return d.Value
}

// StringDetails is String with the evaluation's details.
func (c *Client) StringDetails(key string, ctx *eval.Context, def string) (d Details[string]) {
	c.evaluate(&d.Result, key, flagmodel.TypeString, ctx)
	v, ok := d.Result.Value.(string)
	if !ok {
		v = def
	}
	d.Value = v
	return d
}

// Number returns the value of number flag key for ctx, or def.
func (c *Client) Number(key string, ctx *eval.Context, def float64) float64 {
	d := c.NumberDetails(key, ctx, def)
	return d.Value
}

// NumberDetails is Number with the evaluation's details.
func (c *Client) NumberDetails(key string, ctx *eval.Context, def float64) (d Details[float64]) {
	c.evaluate(&d.Result, key, flagmodel.TypeNumber, ctx)
	v, ok := d.Result.Value.(float64)
	if !ok {
		v = def
	}
	d.Value = v
	return d
}

// Object returns the value of object flag key for ctx (a map[string]any or
// []any shared by every evaluation: do not modify it), or def.
func (c *Client) Object(key string, ctx *eval.Context, def any) any {
	d := c.ObjectDetails(key, ctx, def)
	return d.Value
}

// ObjectDetails is Object with the evaluation's details.
func (c *Client) ObjectDetails(key string, ctx *eval.Context, def any) (d Details[any]) {
	c.evaluate(&d.Result, key, flagmodel.TypeObject, ctx)
	d.Value = d.Result.Value
	if d.Value == nil {
		d.Value = def
	}
	return d
}
