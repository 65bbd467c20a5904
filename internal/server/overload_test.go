package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
)

// slowEvents is an event store that writes at a bounded pace (perEvent
// for each event) and keeps only what the test checks: the stored batch
// ids and the event count, so that its own memory does not hide the
// intake's.
type slowEvents struct {
	*memEvents
	perEvent time.Duration
	mu       sync.Mutex
	stored   map[string]int // batch id → events
	events   int
}

func (s *slowEvents) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	n := 0
	for _, b := range batches {
		n += len(b.Exposures) + len(b.Tracks)
	}
	time.Sleep(time.Duration(n) * s.perEvent)
	s.mu.Lock()
	defer s.mu.Unlock()
	dup := make([]bool, len(batches))
	for i, b := range batches {
		if _, ok := s.stored[b.ID]; ok {
			dup[i] = true
			continue
		}
		s.stored[b.ID] = len(b.Exposures) + len(b.Tracks)
		s.events += s.stored[b.ID]
	}
	return dup, nil
}

// TestAnOverloadedIntakeRefusesWithRetryAfterStaysBoundedAndLosesNothing
// offers far more than the queue holds from many senders at once. The
// intake must refuse with 429 and Retry-After rather than buffer, the
// process's heap must stay bounded, and senders that retry as told must
// eventually deliver every batch exactly once.
func TestAnOverloadedIntakeRefusesWithRetryAfterStaysBoundedAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("takes several seconds; skipped with -short")
	}
	const (
		senders   = 128
		perSender = 1
		batchSize = 5000
		queue     = 10000 // two batches
	)
	slow := &slowEvents{memEvents: newMemEvents(), perEvent: time.Microsecond, stored: map[string]int{}}
	f := newEventFixtureOver(t, slow, server.Options{EventRateLimit: server.RateLimit{PerSecond: -1}}, ingest.Options{QueueEvents: queue})
	ts := f.ts.URL

	// Every batch has the same events and its own id: the senders share
	// one encoded body, so that their memory does not hide the server's.
	events := []byte(eventBatch("", batchSize))
	events = events[bytes.IndexByte(events, ','):]
	body := func(i int) io.Reader {
		return io.MultiReader(strings.NewReader(fmt.Sprintf(`{"id":"load-%d"`, i)), bytes.NewReader(events))
	}
	batches := senders * perSender
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// The live heap is sampled after a forced collection, so that garbage
	// the collector has not reached yet is not counted.
	var peak atomic.Uint64
	sampling, stopSampling := context.WithCancel(context.Background())
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for sampling.Err() == nil {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 30 * time.Second}
	var throttled, badRetryAfter, duplicates atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for s := range senders {
		wg.Go(func() {
			for i := s * perSender; i < (s+1)*perSender; i++ {
				for attempt := 0; ; attempt++ {
					if attempt > 100 {
						t.Errorf("batch %d not delivered after 100 attempts", i)
						return
					}
					req, _ := http.NewRequest("POST", ts+"/events/v1/batch", body(i))
					req.Header.Set("X-API-Key", f.prodKey)
					resp, err := client.Do(req)
					if err != nil {
						time.Sleep(100 * time.Millisecond) // a transport error: retry too
						continue
					}
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						if bytes.Contains(raw, []byte(`"duplicate": true`)) {
							duplicates.Add(1)
						}
						break
					}
					if resp.StatusCode != http.StatusTooManyRequests {
						t.Errorf("batch %d: %d %s", i, resp.StatusCode, raw)
						return
					}
					throttled.Add(1)
					after, err := strconv.Atoi(resp.Header.Get("Retry-After"))
					if err != nil || after < 1 {
						badRetryAfter.Add(1)
						after = 1
					}
					// Honour Retry-After, with jitter so that retries spread.
					time.Sleep(time.Duration(after)*time.Second + rand.N(500*time.Millisecond))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopSampling()
	sampler.Wait()

	if throttled.Load() == 0 {
		t.Fatal("no batch was throttled: the test did not overload the intake")
	}
	if n := badRetryAfter.Load(); n > 0 {
		t.Errorf("%d 429 answers without a valid Retry-After", n)
	}
	slow.mu.Lock()
	stored, storedEvents := len(slow.stored), slow.events
	slow.mu.Unlock()
	if stored != batches || storedEvents != batches*batchSize {
		t.Fatalf("stored %d batches and %d events, want every one of %d batches (%d events) exactly once",
			stored, storedEvents, batches, batches*batchSize)
	}
	growth := int64(peak.Load()) - int64(before.HeapAlloc)
	t.Logf("%d batches of %d events from %d senders in %s; %d answers were 429, %d retries found a duplicate; peak heap %.1f MiB above the start",
		batches, batchSize, senders, elapsed.Round(time.Millisecond), throttled.Load(), duplicates.Load(), float64(growth)/(1<<20))
	// The queue holds 10,000 events and at most 2×GOMAXPROCS batches are
	// decoded at once: some 20 MiB, and as much again for the 128
	// connections' buffers and goroutines on both sides. Without those
	// bounds every sender's batch (640,000 events, some 150 MiB once
	// decoded and tokenized) could be in memory at once.
	const bound = 80 << 20
	if growth > bound {
		t.Errorf("the heap grew by %.1f MiB under overload, above the %d MiB bound", float64(growth)/(1<<20), bound>>20)
	}
}
