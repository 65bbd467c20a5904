package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// Sentinel errors of Submit.
var (
	// ErrQueueFull: the queue holds as many events as it may; nothing was
	// queued. Retry later.
	ErrQueueFull = errors.New("the event queue is full")
	// ErrStopped: the pipeline is stopping or stopped; nothing was queued.
	ErrStopped = errors.New("the event pipeline is stopped")
)

// Store is what the pipeline needs from persistence.
type Store interface {
	AppendEvents(ctx context.Context, batches []store.EventBatch) (dup []bool, err error)
	UnitTokenKey(ctx context.Context, env string) ([]byte, error)
}

// Defaults of Options.
const (
	DefaultQueueEvents   = 100_000
	DefaultCommitEvents  = 20_000
	DefaultTailBuffer    = 1024
	DefaultAppendTimeout = 30 * time.Second
)

// MinPepperLength is the shortest pepper New accepts.
const MinPepperLength = 16

// Options configure a Pipeline. Store is required; the rest have defaults.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Registry receives the pipeline's metrics (none are registered when
	// it is nil).
	Registry prometheus.Registerer
	// QueueEvents bounds how many events may wait to be stored, including
	// those being written (default 100,000). A batch larger than the whole
	// queue is accepted only when the queue is empty.
	QueueEvents int
	// CommitEvents caps the events one transaction stores (default
	// 20,000). A single batch above it is still stored whole.
	CommitEvents int
	// TailBuffer is each tail subscriber's buffer, in events (default
	// 1024). A subscriber that falls further behind loses events.
	TailBuffer int
	// AppendTimeout bounds one AppendEvents call (default 30s).
	AppendTimeout time.Duration
	// Pepper, when set (at least MinPepperLength bytes), is mixed into
	// every environment's unit token key, so that the database alone is
	// not enough to test guessed identifiers against stored tokens. It
	// must be the same on every replica and must never change: other
	// tokens would not join with those already stored.
	Pepper []byte
}

// Receipt reports what became of a submitted batch.
type Receipt struct {
	// Events is how many events the batch holds.
	Events int
	// Duplicate is true when a batch with the same idempotency key was
	// stored before: nothing was written again.
	Duplicate bool
	// DroppedProperties counts track-event properties that were not kept
	// (not allow-listed, or private attributes).
	DroppedProperties int
}

// Pipeline tokenizes, queues and stores event batches. Create it with New
// and end it with Stop.
type Pipeline struct {
	store         Store
	log           *slog.Logger
	capacity      int
	commitMax     int
	tailBuffer    int
	appendTimeout time.Duration
	tokens        *tokenizer

	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*pending
	queued   int // events queued or being written
	stopping bool

	ctx    context.Context // the writer's; canceled when a drain runs out of time
	cancel context.CancelFunc
	done   chan struct{}

	tails tails
	m     metrics
}

// pending is one submitted batch waiting for the writer.
type pending struct {
	batch  store.EventBatch
	events int
	done   chan outcome // buffered: the writer never waits for a submitter
}

type outcome struct {
	dup bool
	err error
}

// New builds a pipeline and starts its writer goroutine.
func New(opts Options) (*Pipeline, error) {
	if opts.Store == nil {
		return nil, errors.New("ingest: a store is required")
	}
	if len(opts.Pepper) > 0 && len(opts.Pepper) < MinPepperLength {
		return nil, fmt.Errorf("ingest: the unit token pepper must be at least %d bytes long", MinPepperLength)
	}
	p := &Pipeline{
		store:         opts.Store,
		log:           opts.Logger,
		capacity:      opts.QueueEvents,
		commitMax:     opts.CommitEvents,
		tailBuffer:    opts.TailBuffer,
		appendTimeout: opts.AppendTimeout,
		tokens:        newTokenizer(opts.Store, opts.Pepper),
		done:          make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.capacity <= 0 {
		p.capacity = DefaultQueueEvents
	}
	if p.commitMax <= 0 {
		p.commitMax = DefaultCommitEvents
	}
	if p.tailBuffer <= 0 {
		p.tailBuffer = DefaultTailBuffer
	}
	if p.appendTimeout <= 0 {
		p.appendTimeout = DefaultAppendTimeout
	}
	p.cond = sync.NewCond(&p.mu)
	p.m = newMetrics(p.capacity)
	p.tails = tails{subs: map[string]map[*Subscription]struct{}{}, m: &p.m}
	if opts.Registry != nil {
		if err := p.m.register(opts.Registry); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p, nil
}

// Capacity returns the queue's bound, in events.
func (p *Pipeline) Capacity() int { return p.capacity }

// Full reports whether the queue has no room left, so that a caller can
// refuse a batch before spending anything on reading it. Submit still
// decides: room may be gone by then.
func (p *Pipeline) Full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queued >= p.capacity
}

// Submit tokenizes a validated batch of env's events, queues it and waits
// until it is stored. received is when the intake received it.
//
// It fails at once with ErrQueueFull when the queue has no room and with
// ErrStopped once Stop was called. When ctx ends first, Submit returns
// ctx's error; the batch may still be stored, which a retry with the same
// idempotency key finds out (Duplicate).
func (p *Pipeline) Submit(ctx context.Context, env *flagmodel.Environment, b *event.Batch, received time.Time) (Receipt, error) {
	if p.isStopping() {
		return Receipt{}, ErrStopped
	}
	key, err := p.tokens.key(ctx, env.Key)
	if err != nil {
		return Receipt{}, err
	}
	sb, droppedProps := prepare(env, b, received, key)
	if droppedProps > 0 {
		p.m.droppedProperties.Add(float64(droppedProps))
	}
	it := &pending{batch: sb, events: len(b.Events), done: make(chan outcome, 1)}
	if err := p.enqueue(it); err != nil {
		return Receipt{}, err
	}
	select {
	case o := <-it.done:
		if o.err != nil {
			return Receipt{}, o.err
		}
		return Receipt{Events: it.events, Duplicate: o.dup, DroppedProperties: droppedProps}, nil
	case <-ctx.Done():
		return Receipt{}, fmt.Errorf("waiting for events to be stored: %w", ctx.Err())
	}
}

func (p *Pipeline) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// enqueue adds it to the queue, or says why it cannot.
func (p *Pipeline) enqueue(it *pending) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return ErrStopped
	}
	if p.queued > 0 && p.queued+it.events > p.capacity {
		return ErrQueueFull
	}
	p.queue = append(p.queue, it)
	p.queued += it.events
	p.m.depth.Set(float64(p.queued))
	p.cond.Signal()
	return nil
}

// run is the writer goroutine: it stores groups of queued batches until
// Stop was called and the queue is empty.
func (p *Pipeline) run() {
	defer close(p.done)
	var batches []store.EventBatch
	for {
		group, events := p.take()
		if group == nil {
			return
		}
		batches = batches[:0]
		for _, it := range group {
			batches = append(batches, it.batch)
		}
		outcomes := p.storeGroup(batches)
		p.release(events)
		stored, dup := group[:0:0], []bool(nil)
		for i, it := range group {
			it.done <- outcomes[i]
			if outcomes[i].err == nil {
				stored = append(stored, it)
				dup = append(dup, outcomes[i].dup)
			}
		}
		p.tails.publish(stored, dup)
		clear(batches) // let the stored events be collected
	}
}

// storeGroup stores a group in one transaction and returns each batch's
// outcome. When the store refuses the group as invalid (a batch of an
// environment deleted since it was queued, say), one bad batch must not
// sink the others: each is then stored in a transaction of its own.
func (p *Pipeline) storeGroup(batches []store.EventBatch) []outcome {
	out := make([]outcome, len(batches))
	dup, err := p.append(batches)
	if errors.Is(err, store.ErrInvalid) && len(batches) > 1 {
		for i := range batches {
			d, err := p.append(batches[i : i+1])
			if err != nil {
				out[i].err = err
			} else {
				out[i].dup = d[0]
			}
		}
		return out
	}
	for i := range out {
		if err != nil {
			out[i].err = err
		} else {
			out[i].dup = dup[i]
		}
	}
	return out
}

// take waits for queued batches and removes a group of them from the
// queue: at least one batch, and more while they fit under commitMax. It
// returns nil when the pipeline is stopping and the queue is empty.
func (p *Pipeline) take() ([]*pending, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 {
		if p.stopping {
			return nil, 0
		}
		p.cond.Wait()
	}
	n, events := 0, 0
	for n < len(p.queue) && (n == 0 || events+p.queue[n].events <= p.commitMax) {
		events += p.queue[n].events
		n++
	}
	group := make([]*pending, n)
	copy(group, p.queue)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return group, events
}

// append stores one group and records how long it took.
func (p *Pipeline) append(batches []store.EventBatch) ([]bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.appendTimeout)
	defer cancel()
	start := time.Now()
	dup, err := p.store.AppendEvents(ctx, batches)
	p.m.appendDuration.Observe(time.Since(start).Seconds())
	events := 0
	for i := range batches {
		events += len(batches[i].Exposures) + len(batches[i].Tracks)
	}
	p.m.commitEvents.Observe(float64(events))
	if err != nil {
		p.m.appendErrors.Inc()
		if p.ctx.Err() != nil {
			return nil, fmt.Errorf("store events: %w (the pipeline stopped before they were written)", ErrStopped)
		}
		p.log.Error("storing events failed", "batches", len(batches), "events", events, "error", err.Error())
		return nil, fmt.Errorf("store events: %w", err)
	}
	if len(dup) != len(batches) {
		return nil, fmt.Errorf("store events: the store reported %d duplicate flags for %d batches", len(dup), len(batches))
	}
	return dup, nil
}

// release returns a stored group's room to the queue.
func (p *Pipeline) release(events int) {
	p.mu.Lock()
	p.queued -= events
	p.m.depth.Set(float64(p.queued))
	p.mu.Unlock()
}

// Stop stops accepting batches (Submit returns ErrStopped), stores what is
// queued and returns once the writer has finished. When ctx ends first, the
// batches not yet stored fail with ErrStopped, and Stop returns ctx's error
// after the writer has finished.
func (p *Pipeline) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.stopping = true
	p.cond.Broadcast()
	p.mu.Unlock()
	select {
	case <-p.done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-p.done
		return fmt.Errorf("drain the event queue: %w", ctx.Err())
	}
}
