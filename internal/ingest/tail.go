package ingest

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/internal/store"
)

// TailEvent is one stored event as tail subscribers see it. Its unit is
// the token, never the identifier the sender sent.
type TailEvent struct {
	Env string
	// Batch is the idempotency key of the batch the event came in.
	Batch string
	Kind  event.Kind
	// Exposure is set when Kind is event.KindExposure, Track when it is
	// event.KindTrack. Both are copies the subscriber owns.
	Exposure store.Exposure
	Track    store.Track
}

// Subscription receives the events of one environment as they are stored.
// Create it with Pipeline.Subscribe and end it with Close.
type Subscription struct {
	tails   *tails
	env     string
	c       chan TailEvent
	dropped atomic.Int64
}

// Events delivers the subscription's events. The channel is never closed:
// stop reading after Close.
func (s *Subscription) Events() <-chan TailEvent { return s.c }

// TakeDropped returns how many events did not fit in the subscription's
// buffer since the previous call, and starts counting again.
func (s *Subscription) TakeDropped() int64 { return s.dropped.Swap(0) }

// Close ends the subscription.
func (s *Subscription) Close() { s.tails.remove(s) }

// Subscribe starts receiving env's events as they are stored. The
// subscription's buffer holds buffer events (Options.TailBuffer when 0 or
// less); when a reader falls behind, new events are dropped and counted
// (TakeDropped) rather than slowing the pipeline down.
func (p *Pipeline) Subscribe(env string, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = p.tailBuffer
	}
	s := &Subscription{tails: &p.tails, env: env, c: make(chan TailEvent, buffer)}
	p.tails.add(s)
	return s
}

// tails is the set of subscriptions, per environment.
type tails struct {
	mu   sync.RWMutex
	subs map[string]map[*Subscription]struct{}
	n    atomic.Int64
	m    *metrics
}

func (t *tails) add(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.subs[s.env]
	if set == nil {
		set = map[*Subscription]struct{}{}
		t.subs[s.env] = set
	}
	set[s] = struct{}{}
	t.n.Add(1)
	t.m.tailSubscribers.Inc()
}

func (t *tails) remove(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.subs[s.env]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(t.subs, s.env)
	}
	t.n.Add(-1)
	t.m.tailSubscribers.Dec()
}

// publish offers a stored group's events (duplicates excepted) to the
// subscribers of their environments, without ever waiting for one.
func (t *tails) publish(group []*pending, dup []bool) {
	if t.n.Load() == 0 {
		return // the common case costs one atomic load
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i, it := range group {
		set := t.subs[it.batch.Env]
		if len(set) == 0 || dup[i] {
			continue
		}
		b := &it.batch
		for j := range b.Exposures {
			e := b.Exposures[j]
			e.Unit = slices.Clone(e.Unit)
			offer(set, TailEvent{Env: b.Env, Batch: b.ID, Kind: event.KindExposure, Exposure: e}, t.m)
		}
		for j := range b.Tracks {
			e := b.Tracks[j]
			e.Unit = slices.Clone(e.Unit)
			offer(set, TailEvent{Env: b.Env, Batch: b.ID, Kind: event.KindTrack, Track: e}, t.m)
		}
	}
}

func offer(set map[*Subscription]struct{}, ev TailEvent, m *metrics) {
	for s := range set {
		select {
		case s.c <- ev:
		default:
			s.dropped.Add(1)
			m.tailDropped.Inc()
		}
	}
}
