package ingest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/store"
)

// fakeStore keeps event batches in memory, as the real stores do: a batch
// is stored once per (environment, id), and a failed call stores nothing.
// gate, when set, holds every AppendEvents call until it is closed (or the
// call's context ends); entered is signalled as each call starts.
type fakeStore struct {
	mu       sync.Mutex
	batches  map[string]store.EventBatch
	calls    []int // batches per AppendEvents call
	keys     map[string][]byte
	keyCalls int
	fail     error
	gate     chan struct{}
	entered  chan struct{}
	// gone names an environment the store no longer has: a call with a
	// batch of it stores nothing and is ErrInvalid, as the real stores do.
	gone string
}

func newFakeStore() *fakeStore {
	return &fakeStore{batches: map[string]store.EventBatch{}, keys: map[string][]byte{}, entered: make(chan struct{}, 1000)}
}

func (s *fakeStore) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	s.entered <- struct{}{}
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, len(batches))
	if s.fail != nil {
		return nil, s.fail
	}
	for _, b := range batches {
		if b.Env == s.gone {
			return nil, fmt.Errorf("environment %q does not exist: %w", b.Env, store.ErrInvalid)
		}
	}
	dup := make([]bool, len(batches))
	for i, b := range batches {
		k := b.Env + "/" + b.ID
		if _, ok := s.batches[k]; ok {
			dup[i] = true
			continue
		}
		s.batches[k] = b
	}
	return dup, nil
}

func (s *fakeStore) UnitTokenKey(ctx context.Context, env string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyCalls++
	if k, ok := s.keys[env]; ok {
		return k, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	s.keys[env] = k
	return k, nil
}

func (s *fakeStore) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *fakeStore) letGo() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

func (s *fakeStore) stored() map[string]store.EventBatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]store.EventBatch, len(s.batches))
	for k, v := range s.batches {
		out[k] = v
	}
	return out
}

func (s *fakeStore) callSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.calls...)
}

var (
	now        = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	production = &flagmodel.Environment{Key: "production", EventProperties: []string{"plan", "email"}, PrivateAttributes: []string{"email"}}
	staging    = &flagmodel.Environment{Key: "staging"}
)

// batch returns a batch of n events alternating exposures and track
// events of units user-0, user-1, ….
func batch(id string, n int) *event.Batch {
	b := &event.Batch{ID: id}
	for i := range n {
		unit := fmt.Sprintf("user-%d", i)
		if i%2 == 0 {
			b.Events = append(b.Events, event.Event{Kind: event.KindExposure, Time: now, Unit: unit, Flag: "checkout", Variant: "on", FlagVersion: 1})
		} else {
			b.Events = append(b.Events, event.Event{Kind: event.KindTrack, Time: now, Unit: unit, Name: "purchase"})
		}
	}
	return b
}

func newPipeline(t *testing.T, st *fakeStore, opts ingest.Options) *ingest.Pipeline {
	t.Helper()
	opts.Store = st
	p, err := ingest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}

// eventually waits until cond holds, failing the test after 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentSubmittersShareOneTransaction(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	st.hold()
	first := make(chan error, 1)
	go func() { _, err := p.Submit(context.Background(), production, batch("first", 2), now); first <- err }()
	<-st.entered // the writer is inside AppendEvents with the first batch
	const submitters = 50
	var wg sync.WaitGroup
	receipts := make([]ingest.Receipt, submitters)
	errs := make([]error, submitters)
	for i := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receipts[i], errs[i] = p.Submit(context.Background(), production, batch(fmt.Sprintf("b-%d", i), 3), now)
		}()
	}
	eventually(t, "every submitter is queued", func() bool { return p.Waiting() == submitters })
	st.letGo()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := range submitters {
		if errs[i] != nil || receipts[i].Events != 3 || receipts[i].Duplicate {
			t.Fatalf("submitter %d: %+v, %v", i, receipts[i], errs[i])
		}
	}
	if got := st.callSizes(); len(got) != 2 || got[0] != 1 || got[1] != submitters {
		t.Fatalf("AppendEvents calls stored %v batches; want [1 %d]: the queued batches in one transaction", got, submitters)
	}
	if n := len(st.stored()); n != submitters+1 {
		t.Fatalf("%d batches stored, want %d", n, submitters+1)
	}
}

func TestAGroupStaysUnderTheCommitCap(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{CommitEvents: 10})
	st.hold()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Submit(context.Background(), production, batch("first", 1), now) }()
	<-st.entered
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Submit(context.Background(), production, batch(fmt.Sprintf("b-%d", i), 4), now)
		}()
	}
	eventually(t, "six batches are queued", func() bool { return p.Waiting() == 6 })
	st.letGo()
	wg.Wait()
	if got := fmt.Sprint(st.callSizes()); got != "[1 2 2 2]" {
		t.Fatalf("batches per transaction %s, want [1 2 2 2] (4+4 events fit under 10, a third would not)", got)
	}
}

func TestAFullQueueRefusesAtOnceAndAcceptsAgainOnceDrained(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{QueueEvents: 10})
	st.hold()
	var wg sync.WaitGroup
	for i, n := range []int{6, 4} { // the first is being written, the second waits: 10 events
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Submit(context.Background(), production, batch(fmt.Sprintf("fits-%d", i), n), now); err != nil {
				t.Errorf("batch %d: %v", i, err)
			}
		}()
		if i == 0 {
			<-st.entered
		}
	}
	eventually(t, "the second batch is queued", func() bool { return p.Waiting() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := p.Submit(ctx, production, batch("one-too-many", 1), now)
	if !errors.Is(err, ingest.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("a full queue made the submitter wait %s", waited)
	}
	st.letGo()
	wg.Wait()
	if _, err := p.Submit(ctx, production, batch("after", 1), now); err != nil {
		t.Fatalf("after the queue drained: %v", err)
	}
	if _, ok := st.stored()["production/one-too-many"]; ok {
		t.Fatal("a refused batch was stored")
	}
}

func TestABatchLargerThanTheQueueIsAcceptedWhenTheQueueIsEmpty(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{QueueEvents: 5})
	if _, err := p.Submit(context.Background(), production, batch("big", 8), now); err != nil {
		t.Fatalf("a batch above the bound must not be refused forever: %v", err)
	}
}

func TestARetriedBatchIsAcknowledgedAsADuplicate(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	first, err := p.Submit(context.Background(), production, batch("same", 4), now)
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	again, err := p.Submit(context.Background(), production, batch("same", 4), now)
	if err != nil || !again.Duplicate || again.Events != 4 {
		t.Fatalf("retry: %+v, %v; want a duplicate of 4 events", again, err)
	}
	other, err := p.Submit(context.Background(), staging, batch("same", 4), now)
	if err != nil || other.Duplicate {
		t.Fatalf("the same id in another environment: %+v, %v; want a new batch", other, err)
	}
}

func TestAStoreErrorReachesEverySubmitterOfTheGroupAndNoneIsAcknowledged(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	broken := fmt.Errorf("disk full: %w", store.ErrUnavailable)
	st.hold()
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Submit(context.Background(), production, batch(fmt.Sprintf("b-%d", i), 2), now)
		}()
		if i == 0 {
			<-st.entered
		}
	}
	eventually(t, "four batches are queued", func() bool { return p.Waiting() == 4 })
	st.mu.Lock()
	st.fail = broken
	st.mu.Unlock()
	st.letGo()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("submitter %d got %v, want the store's error", i, err)
		}
	}
	if n := len(st.stored()); n != 0 {
		t.Fatalf("%d batches stored", n)
	}
}

func TestABatchTheStoreRefusesAsInvalidDoesNotSinkTheOthersInItsGroup(t *testing.T) {
	st := newFakeStore()
	st.gone = "staging"
	p := newPipeline(t, st, ingest.Options{})
	st.hold()
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	submit := func(env *flagmodel.Environment, id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Submit(context.Background(), env, batch(id, 2), now)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	submit(production, "first")
	<-st.entered
	submit(production, "good-1")
	submit(staging, "of-a-deleted-environment")
	submit(production, "good-2")
	eventually(t, "three batches are queued", func() bool { return p.Waiting() == 3 })
	st.letGo()
	wg.Wait()
	for id, err := range errs {
		if id == "of-a-deleted-environment" {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", id, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v, want stored", id, err)
		}
	}
	if n := len(st.stored()); n != 3 {
		t.Fatalf("%d batches stored, want the 3 good ones", n)
	}
}

func TestStopWritesWhatIsQueuedAndRefusesNewBatches(t *testing.T) {
	st := newFakeStore()
	p, err := ingest.New(ingest.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	st.hold()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Submit(context.Background(), production, batch(fmt.Sprintf("b-%d", i), 2), now)
		}()
		if i == 0 {
			<-st.entered
		}
	}
	eventually(t, "three batches are queued", func() bool { return p.Waiting() == 3 })
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(context.Background()) }()
	eventually(t, "Stop was called", p.Stopping)
	if _, err := p.Submit(context.Background(), production, batch("late", 1), now); !errors.Is(err, ingest.ErrStopped) {
		t.Fatalf("Submit while stopping: %v, want ErrStopped", err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the queue was written", err)
	case <-time.After(20 * time.Millisecond):
	}
	st.letGo()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued batch %d: %v", i, err)
		}
	}
	if n := len(st.stored()); n != 4 {
		t.Fatalf("%d batches stored after the drain, want 4", n)
	}
}

func TestStopGivesUpWhenItsContextEndsAndFailsWhatIsLeft(t *testing.T) {
	st := newFakeStore()
	p, err := ingest.New(ingest.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	st.hold() // never let go: the database hangs
	errc := make(chan error, 1)
	go func() { _, err := p.Submit(context.Background(), production, batch("stuck", 1), now); errc <- err }()
	<-st.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v", err)
	}
	if err := <-errc; !errors.Is(err, ingest.ErrStopped) {
		t.Fatalf("the submitter got %v, want ErrStopped", err)
	}
}

func TestASubmitterThatGivesUpGetsItsContextError(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	st.hold()
	defer st.letGo()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Submit(ctx, production, batch("b", 1), now); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestUnitsAreTokenizedDeterministicallyPerEnvironment(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	for _, env := range []*flagmodel.Environment{production, staging} {
		for _, id := range []string{"a", "b"} {
			if _, err := p.Submit(context.Background(), env, batch(id, 2), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := st.stored()
	prodA, prodB, stagA := got["production/a"], got["production/b"], got["staging/a"]
	if !bytes.Equal(prodA.Exposures[0].Unit, prodB.Exposures[0].Unit) {
		t.Error("one unit got two tokens in one environment")
	}
	if bytes.Equal(prodA.Exposures[0].Unit, stagA.Exposures[0].Unit) {
		t.Error("one unit got the same token in two environments")
	}
	if bytes.Equal(prodA.Exposures[0].Unit, prodA.Tracks[0].Unit) {
		t.Error("two units got the same token")
	}
	want := ingest.Token(st.keys["production"], "user-0")
	if len(want) != ingest.TokenSize || !bytes.Equal(prodA.Exposures[0].Unit, want) {
		t.Errorf("token %x, want HMAC-SHA-256(key, unit)[:16] = %x", prodA.Exposures[0].Unit, want)
	}
	if st.keyCalls != 2 {
		t.Errorf("the store was asked for unit token keys %d times, want once per environment", st.keyCalls)
	}
	if strings.Contains(fmt.Sprintf("%+v", got), "user-") {
		t.Error("a raw unit reached the store")
	}
}

func TestAPepperChangesEveryToken(t *testing.T) {
	plain, peppered := newFakeStore(), newFakeStore()
	key := make([]byte, 32)
	plain.keys["production"], peppered.keys["production"] = key, key
	pepper := []byte("a pepper of some length")
	a := newPipeline(t, plain, ingest.Options{})
	b := newPipeline(t, peppered, ingest.Options{Pepper: pepper})
	for _, p := range []*ingest.Pipeline{a, b} {
		if _, err := p.Submit(context.Background(), production, batch("x", 1), now); err != nil {
			t.Fatal(err)
		}
	}
	tp, tq := plain.stored()["production/x"].Exposures[0].Unit, peppered.stored()["production/x"].Exposures[0].Unit
	if bytes.Equal(tp, tq) {
		t.Fatal("the pepper did not change the token: the database alone would recompute it")
	}
	if want := ingest.Token(ingest.DeriveKey(key, pepper), "user-0"); !bytes.Equal(tq, want) {
		t.Fatalf("peppered token %x, want %x", tq, want)
	}
	if _, err := ingest.New(ingest.Options{Store: plain, Pepper: []byte("short")}); err == nil {
		t.Fatal("a short pepper was accepted")
	}
}

func TestOnlyAllowListedPropertiesThatAreNotPrivateAreStored(t *testing.T) {
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	value := 12.5
	b := &event.Batch{ID: "props", Events: []event.Event{
		{Kind: event.KindTrack, Time: now, Unit: "u", Name: "purchase", Value: &value,
			Properties: map[string]any{"plan": "pro", "email": "someone@example.com", "coupon": "SECRET-CODE"}},
		{Kind: event.KindTrack, Time: now, Unit: "u", Name: "signup", Properties: map[string]any{"coupon": "X"}},
	}}
	r, err := p.Submit(context.Background(), production, b, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.DroppedProperties != 3 {
		t.Errorf("dropped %d properties, want 3 (email is private though listed; coupon twice is not listed)", r.DroppedProperties)
	}
	tracks := st.stored()["production/props"].Tracks
	if got := string(tracks[0].Properties); got != `{"plan":"pro"}` {
		t.Errorf("stored properties %s, want {\"plan\":\"pro\"}", got)
	}
	if tracks[1].Properties != nil {
		t.Errorf("an event without allowed properties stored %s, want none", tracks[1].Properties)
	}
	if !tracks[0].HasValue || tracks[0].Value != 12.5 || tracks[1].HasValue {
		t.Errorf("values: %+v", tracks)
	}
}

func TestTailSubscribersSeeStoredEventsWithTokensAndASlowOneLosesEventsNotTheWriter(t *testing.T) {
	st := newFakeStore()
	reg := prometheus.NewRegistry()
	p := newPipeline(t, st, ingest.Options{Registry: reg})
	fast, slow, other := p.Subscribe("production", 100), p.Subscribe("production", 3), p.Subscribe("staging", 0)
	defer fast.Close()
	defer slow.Close()
	defer other.Close()
	received := make(chan ingest.TailEvent, 100)
	go func() {
		for ev := range fast.Events() {
			received <- ev
		}
	}()
	if _, err := p.Submit(context.Background(), production, batch("t1", 2), now); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Submit(context.Background(), production, batch("t2", 3), now); err != nil {
		t.Fatal(err)
	}
	if r, _ := p.Submit(context.Background(), production, batch("t1", 2), now); !r.Duplicate {
		t.Fatal("retry was not a duplicate")
	}
	want := []struct {
		batch string
		kind  event.Kind
	}{{"t1", event.KindExposure}, {"t1", event.KindTrack}, {"t2", event.KindExposure}, {"t2", event.KindExposure}, {"t2", event.KindTrack}}
	for i, w := range want {
		select {
		case ev := <-received:
			if ev.Batch != w.batch || ev.Kind != w.kind || ev.Env != "production" {
				t.Fatalf("event %d: %s %s in %s, want %s %s", i, ev.Kind, ev.Batch, ev.Env, w.kind, w.batch)
			}
			unit := ev.Exposure.Unit
			if ev.Kind == event.KindTrack {
				unit = ev.Track.Unit
			}
			if len(unit) != ingest.TokenSize {
				t.Fatalf("event %d carries a unit of %d bytes, want a token", i, len(unit))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d never arrived", i)
		}
	}
	select {
	case ev := <-received:
		t.Fatalf("an extra event %+v (the duplicate must not be shown again)", ev)
	case <-time.After(20 * time.Millisecond):
	}
	if n := slow.TakeDropped(); n != 2 {
		t.Errorf("the slow subscriber (buffer 3, 5 events) lost %d events, want 2", n)
	}
	if n := len(slow.Events()); n != 3 {
		t.Errorf("the slow subscriber holds %d events, want its buffer full (3)", n)
	}
	if n := len(other.Events()); n != 0 {
		t.Errorf("a staging subscriber received %d production events", n)
	}
	if got := metricValue(t, reg, "weir_event_tail_dropped_total"); got != 2 {
		t.Errorf("weir_event_tail_dropped_total = %v", got)
	}
}

// metricValue returns the value of an unlabelled counter or gauge.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s is not registered", name)
	return 0
}

func TestStoredPropertiesAreTheJSONOfTheAllowedOnes(t *testing.T) {
	env := &flagmodel.Environment{Key: "production", EventProperties: []string{"s", "n", "b", "big", "tiny", "esc", "neg"}}
	props := map[string]any{"s": "pro \"plan\" <b>", "n": 3.0, "b": true, "big": 1e21, "tiny": 1e-7, "esc": "é\n", "neg": -0.5, "other": "x"}
	st := newFakeStore()
	p := newPipeline(t, st, ingest.Options{})
	b := &event.Batch{ID: "json", Events: []event.Event{{Kind: event.KindTrack, Time: now, Unit: "u", Name: "n", Properties: props}}}
	if _, err := p.Submit(context.Background(), env, b, now); err != nil {
		t.Fatal(err)
	}
	got := st.stored()["production/json"].Tracks[0].Properties
	delete(props, "other")
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, props) {
		t.Fatalf("stored %s, which decodes to %v (%v), want %v", got, back, err, props)
	}
	if want := `{"b":true,"big":1e+21,"esc":"é\n","n":3,"neg":-0.5,"s":"pro \"plan\" <b>","tiny":1e-7}`; string(got) != want {
		t.Fatalf("stored %s, want %s (sorted keys, numbers as encoding/json writes them)", got, want)
	}
}
