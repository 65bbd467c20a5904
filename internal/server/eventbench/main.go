// Command eventbench measures the event intake end to end: batches of
// events posted over loopback HTTP by concurrent connections to a Weir
// server, each answered 202 only once its batch is durable in the
// database. It reports durable events a second and the latency of a
// batch, from sending it to its 202, in percentiles.
//
// It starts a Weir server (server, ingest pipeline and store, composed as
// app composes them) on a temporary SQLite database, or on a fresh schema
// of a PostgreSQL database with -postgres, with an SDK key of production;
// then c connections each post batches back to back for d. Every batch has
// its own id and 1,000 events by default (a mix of exposures and track
// events of 100,000 users), gzip-compressed as SDKs send them. The per-key
// event rate limit is off, so that the figure is the intake's and the
// database's. At the end it checks that the stored event count equals the
// acknowledged one. From the repository root:
//
//	go run ./internal/server/eventbench                      # SQLite, 8 connections, 10 s
//	go run ./internal/server/eventbench -c 16 -d 30s
//	go run ./internal/server/eventbench -postgres postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	go run ./internal/server/eventbench -cpuprofile cpu.out && go tool pprof -top cpu.out
//	go run ./internal/server/eventbench -discard           # the intake's own ceiling: nothing is written
//
// It is a main package, so go test never runs it.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/postgres"
	"github.com/weirhq/weir/internal/store/sqlite"
)

// eventStore is a store that keeps events.
type eventStore interface {
	store.Store
	store.EventStore
}

func main() {
	conns := flag.Int("c", 8, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	batchSize := flag.Int("events", 1000, "events per batch")
	compress := flag.Bool("gzip", true, "gzip the batches (Content-Encoding: gzip), as SDKs do")
	pgURL := flag.String("postgres", "", "run on a fresh schema of this PostgreSQL database instead of SQLite")
	discard := flag.Bool("discard", false, "acknowledge batches without writing them: the intake's own ceiling")
	queue := flag.Int("queue", 0, "the intake's queue in events (default: the server's)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	log.SetFlags(0)

	ctx := context.Background()
	st, backend, cleanup, err := openStore(ctx, *pgURL, *discard)
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	base, key, stop, err := startWeir(ctx, st, *queue)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	bodies, err := makeBodies(*batchSize, *compress)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("GOMAXPROCS=%d, %s, %s; %d connections × batches of %d events (gzip %v) for %s\n",
		runtime.GOMAXPROCS(0), runtime.Version(), backend, *conns, *batchSize, *compress, *dur)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	res := run(base, key, bodies, *conns, *dur, *batchSize)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res.print()

	stats, err := st.EventStats(ctx, "production", time.Now().Add(-24*time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	stored := stats.Exposures + stats.Tracks
	fmt.Printf("stored events: %d (acknowledged %d)\n", stored, res.events)
	if stored != res.events {
		log.Fatalf("the store holds %d events, but %d were acknowledged", stored, res.events)
	}
}

// openStore opens a fresh SQLite file, or a fresh schema of a PostgreSQL
// database, and creates the production environment. With discard, events
// are counted and not written.
func openStore(ctx context.Context, pgURL string, discard bool) (eventStore, string, func(), error) {
	var st store.Store
	var cleanup func()
	var backend string
	if pgURL == "" {
		dir, err := os.MkdirTemp("", "eventbench")
		if err != nil {
			return nil, "", nil, err
		}
		s, err := sqlite.Open(ctx, filepath.Join(dir, "weir.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, "", nil, err
		}
		st, backend = s, "SQLite"
		cleanup = func() { s.Close(); os.RemoveAll(dir) }
	} else {
		admin, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			return nil, "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		b := make([]byte, 6)
		rand.Read(b)
		schema := "weir_eventbench_" + hex.EncodeToString(b)
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, "", nil, fmt.Errorf("create schema: %w", err)
		}
		u, err := url.Parse(pgURL)
		if err != nil {
			return nil, "", nil, fmt.Errorf("-postgres: not a URL")
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		s, err := postgres.Open(ctx, u.String())
		if err != nil {
			return nil, "", nil, err
		}
		st, backend = s, "PostgreSQL"
		cleanup = func() {
			s.Close()
			if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				log.Printf("drop schema %s: %v", schema, err)
			}
			admin.Close(ctx)
		}
	}
	if discard {
		st, backend = &discardStore{Store: st}, "no database (events discarded)"
	}
	es, ok := st.(eventStore)
	if !ok {
		cleanup()
		return nil, "", nil, fmt.Errorf("the %s store keeps no events", backend)
	}
	env := flagmodel.Environment{Key: "production"}
	cs := &store.Changeset{Actor: "eventbench", Action: "bootstrap",
		Changes: []store.Change{{Kind: store.KindEnvironment, Key: env.Key, Environment: &env}}}
	if _, err := st.Commit(ctx, cs); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return es, backend, cleanup, nil
}

// discardStore acknowledges event batches without writing them, so that a
// run measures the intake alone.
type discardStore struct {
	store.Store
	mu     sync.Mutex
	keys   map[string][]byte
	ids    map[string]bool
	events int64
}

func (d *discardStore) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = map[string]bool{}
	}
	dup := make([]bool, len(batches))
	for i, b := range batches {
		if d.ids[b.Env+"/"+b.ID] {
			dup[i] = true
			continue
		}
		d.ids[b.Env+"/"+b.ID] = true
		d.events += int64(len(b.Exposures) + len(b.Tracks))
	}
	return dup, nil
}

func (d *discardStore) UnitTokenKey(ctx context.Context, env string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = map[string][]byte{}
	}
	if k, ok := d.keys[env]; ok {
		return k, nil
	}
	k := make([]byte, 32)
	rand.Read(k)
	d.keys[env] = k
	return k, nil
}

func (d *discardStore) EventStats(ctx context.Context, env string, from, to time.Time) (store.EventStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return store.EventStats{Exposures: d.events}, nil
}

func (d *discardStore) DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error) {
	return 0, nil
}

// startWeir serves the store over loopback HTTP and returns its URL and
// an SDK key of production.
func startWeir(ctx context.Context, st eventStore, queue int) (string, string, func(), error) {
	pipe, err := ingest.New(ingest.Options{Store: st, QueueEvents: queue})
	if err != nil {
		return "", "", nil, err
	}
	srv, err := server.New(server.Options{Store: st, Intake: pipe, EventStats: st, EventRateLimit: server.RateLimit{PerSecond: -1}})
	if err != nil {
		return "", "", nil, err
	}
	if err := srv.Reload(ctx); err != nil {
		return "", "", nil, err
	}
	secret, shown, err := auth.NewSecret(store.ScopeSDK)
	if err != nil {
		return "", "", nil, err
	}
	if err := st.CreateKey(ctx, store.Key{ID: auth.NewID(), Name: "eventbench", Scope: store.ScopeSDK, Env: "production",
		Hash: auth.Hash(secret), Prefix: shown, CreatedBy: "eventbench", CreatedAt: time.Now().UTC()}); err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	stop := func() {
		_ = hs.Close()
		_ = pipe.Stop(context.Background())
	}
	return "http://" + ln.Addr().String(), secret, stop, nil
}

// bodies are a few batches' events, encoded (and compressed) once. A
// request sends its own id in front of one of them: with gzip, as a gzip
// member of its own, which gzip readers join to the next one.
type bodies struct {
	compress bool
	events   [][]byte // `,"events":[…]}` encoded, or compressed
}

func makeBodies(n int, compress bool) (*bodies, error) {
	b := &bodies{compress: compress}
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	now := time.Now().UTC()
	for range 8 {
		var sb strings.Builder
		sb.WriteString(`,"sentAt":"` + now.Format(time.RFC3339Nano) + `","sdk":"eventbench","events":[`)
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			user := rng.IntN(100_000)
			ts := now.Add(-time.Duration(rng.IntN(60_000)) * time.Millisecond).Format(time.RFC3339Nano)
			if i%2 == 0 {
				v := "control"
				if rng.IntN(2) == 1 {
					v = "treatment"
				}
				fmt.Fprintf(&sb, `{"kind":"exposure","time":%q,"unit":"user-%d","flag":"checkout-flow","variant":%q,"flagVersion":7,"reason":"SPLIT","experiment":"checkout-flow-test"}`, ts, user, v)
			} else {
				fmt.Fprintf(&sb, `{"kind":"track","time":%q,"unit":"user-%d","name":"purchase","value":%.2f,"properties":{"plan":"pro","country":"NL"}}`, ts, user, 10+rng.Float64()*90)
			}
		}
		sb.WriteString("]}")
		raw := []byte(sb.String())
		if compress {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(raw)
			zw.Close()
			raw = buf.Bytes()
		}
		b.events = append(b.events, raw)
	}
	return b, nil
}

// body returns the request body of a batch with the given id. zw is the
// caller's own gzip writer: a new one allocates its compressor anew, which
// cost the client a tenth of the machine.
func (b *bodies) body(id string, i int, zw *gzip.Writer) io.Reader {
	head := []byte(`{"id":"` + id + `"`)
	if b.compress {
		var buf bytes.Buffer
		zw.Reset(&buf)
		zw.Write(head)
		zw.Close()
		head = buf.Bytes()
	}
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(b.events[i%len(b.events)]))
}

type result struct {
	elapsed     time.Duration
	batches     int64
	events      int64
	duplicates  int64
	refused     map[int]int64
	latencies   []time.Duration
	batchEvents int
}

func run(base, key string, b *bodies, conns int, dur time.Duration, batchSize int) *result {
	transport := &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	var (
		mu       sync.Mutex
		res      = &result{refused: map[int]int64{}, batchEvents: batchSize}
		accepted atomic.Int64
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() {
			var lat []time.Duration
			refused := map[int]int64{}
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			var dups int64
			for n := 0; time.Now().Before(deadline); n++ {
				req, _ := http.NewRequest("POST", base+"/events/v1/batch", b.body(fmt.Sprintf("bench-%d-%d", c, n), c+n, zw))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				if b.compress {
					req.Header.Set("Content-Encoding", "gzip")
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					log.Fatalf("post: %v", err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					refused[resp.StatusCode]++
					if resp.StatusCode != http.StatusTooManyRequests {
						log.Fatalf("post: %d %s", resp.StatusCode, raw)
					}
					time.Sleep(100 * time.Millisecond)
					continue
				}
				lat = append(lat, time.Since(t0))
				var ack struct {
					Accepted  int  `json:"accepted"`
					Duplicate bool `json:"duplicate"`
				}
				if err := json.Unmarshal(raw, &ack); err != nil || ack.Accepted != batchSize {
					log.Fatalf("unexpected answer %s", raw)
				}
				if ack.Duplicate {
					dups++
				}
				accepted.Add(1)
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.duplicates += dups
			for k, v := range refused {
				res.refused[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.batches = accepted.Load()
	res.events = res.batches * int64(batchSize)
	return res
}

func (r *result) print() {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		i := int(math.Ceil(p/100*float64(len(r.latencies)))) - 1
		return r.latencies[max(0, min(i, len(r.latencies)-1))]
	}
	fmt.Printf("\n%d batches (%d events) acknowledged in %s: %.0f events/s durable, %.0f batches/s\n",
		r.batches, r.events, r.elapsed.Round(time.Millisecond), float64(r.events)/r.elapsed.Seconds(), float64(r.batches)/r.elapsed.Seconds())
	fmt.Printf("batch latency (send → 202): p50 %s  p90 %s  p99 %s  max %s\n",
		pct(50).Round(10*time.Microsecond), pct(90).Round(10*time.Microsecond), pct(99).Round(10*time.Microsecond), pct(100).Round(10*time.Microsecond))
	if r.duplicates > 0 || len(r.refused) > 0 {
		fmt.Printf("duplicates %d, refused %v\n", r.duplicates, r.refused)
	}
}
