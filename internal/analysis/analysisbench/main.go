// Command analysisbench measures the analysis of one experiment over a large
// event history: it fills a fresh store with exposures of a two-variant
// experiment and track events of two metrics, then times the per-metric
// aggregation (the part that runs in the database) and the whole analysis.
// It is a harness, not a test: run it by hand and copy its figures, with
// the command, into BENCHMARKS.md.
//
//	go run ./internal/analysis/analysisbench                        # SQLite, 1,000,000 units, 10,000,000 events
//	go run ./internal/analysis/analysisbench -postgres URL          # the same on PostgreSQL (a fresh schema)
//	go run ./internal/analysis/analysisbench -units 100000 -events 1000000
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/internal/stats"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/postgres"
	"github.com/weirhq/weir/internal/store/sqlite"
)

func main() {
	units := flag.Int("units", 1_000_000, "exposed units")
	events := flag.Int("events", 10_000_000, "track events")
	pgURL := flag.String("postgres", "", "PostgreSQL URL (default: SQLite in a temporary directory)")
	dbPath := flag.String("db", "", "SQLite file to fill once and keep (filled only when it does not exist yet)")
	ratio := flag.Bool("ratio", true, "also time the ratio metric over the page views (slow)")
	repeat := flag.Int("repeat", 1, "analyses to time, one after the other")
	flag.Parse()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s benchStore
	var cleanup func()
	var analyze func(context.Context) error
	var err error
	fresh := true
	if *dbPath != "" {
		_, statErr := os.Stat(*dbPath)
		fresh = statErr != nil
		var st *sqlite.Store
		if st, err = sqlite.Open(ctx, *dbPath); err == nil && fresh {
			err = seedEnv(ctx, st)
		}
		s, cleanup = st, func() { st.Close() }
	} else {
		s, cleanup, analyze, err = open(ctx, *pgURL)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	if fresh {
		start := time.Now()
		if err := fill(ctx, s, *units, *events, t0); err != nil {
			log.Fatal(err)
		}
		log.Printf("filled %d units, %d events in %s", *units, *events, time.Since(start).Round(time.Millisecond))
		if analyze != nil {
			// What autovacuum does soon after a bulk load: without
			// statistics, the planner guesses a nested loop join.
			if err := analyze(ctx); err != nil {
				log.Fatal(err)
			}
		}
	}

	to := t0.Add(10 * 24 * time.Hour)
	for _, q := range []store.AggregateQuery{
		{Aggregation: store.AggregateConversion, Event: "purchase"},
		{Aggregation: store.AggregateSum, Event: "purchase", Window: 72 * time.Hour},
		{Aggregation: store.AggregateRatio, Event: "purchase", Denominator: "view"},
	} {
		if q.Aggregation == store.AggregateRatio && !*ratio {
			continue
		}
		q.Env, q.Flag, q.Experiment, q.From, q.To = "production", "checkout", "checkout-test", t0, to
		q.Variants = []string{"control", "treatment"}
		start := time.Now()
		agg, err := s.AggregateExperiment(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("aggregate %-10s %s: %+v", q.Aggregation, time.Since(start).Round(time.Millisecond), agg)
	}
	plan := analysis.Plan{Env: "production", Experiment: "checkout-test", Flag: "checkout", Phase: 1, Variants: []string{"control", "treatment"},
		Weights: map[string]float64{"control": 50, "treatment": 50}, Method: stats.MethodSequential, From: t0, To: to,
		Metrics: []analysis.Metric{
			{Key: "conversion", Role: analysis.RolePrimary, Type: analysis.TypeConversion, Event: "purchase", HigherIsBetter: true},
			{Key: "revenue", Role: analysis.RoleSecondary, Type: analysis.TypeSum, Event: "purchase", HigherIsBetter: true},
		}}
	var res *analysis.Result
	for range max(1, *repeat) {
		start, cpu := time.Now(), cpuTime()
		if res, err = analysis.Run(ctx, s, plan, to); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("analysis of %d units and %d events, 2 metrics: %s (CPU %s)\n", *units, *events,
			time.Since(start).Round(time.Millisecond), (cpuTime() - cpu).Round(time.Millisecond))
	}
	for _, m := range res.Metrics {
		tr := m.Variants[1]
		if tr.Relative != nil {
			fmt.Printf("  %s: relative lift %.4f [%.4f, %.4f]\n", m.Key, tr.Relative.Estimate, tr.Relative.CILow, tr.Relative.CIHigh)
		}
	}
}

type benchStore interface {
	store.Store
	store.AnalysisStore
}

// open opens a fresh store: SQLite in a temporary directory, or a new
// schema of the PostgreSQL database at url (dropped by cleanup), with a
// function that refreshes PostgreSQL's planner statistics.
func open(ctx context.Context, url string) (s benchStore, cleanup func(), analyze func(context.Context) error, err error) {
	if url == "" {
		dir, err := os.MkdirTemp("", "analysisbench")
		if err != nil {
			return nil, nil, nil, err
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "weir.db"))
		if err != nil {
			return nil, nil, nil, err
		}
		return st, func() { st.Close(); os.RemoveAll(dir) }, nil, seedEnv(ctx, st)
	}
	schema := "analysisbench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, nil, err
	}
	st, err := postgres.Open(ctx, url+"&search_path="+schema)
	if err != nil {
		return nil, nil, nil, err
	}
	analyze = func(ctx context.Context) error {
		_, err := conn.Exec(ctx, "ANALYZE "+schema+".exposures, "+schema+".tracks")
		return err
	}
	return st, func() {
		st.Close()
		conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(ctx)
	}, analyze, seedEnv(ctx, st)
}

func seedEnv(ctx context.Context, s store.Store) error {
	_, err := s.Commit(ctx, &store.Changeset{Actor: "bench", Action: "apply", Changes: []store.Change{
		{Kind: store.KindEnvironment, Key: "production", Environment: &flagmodel.Environment{Key: "production"}},
	}})
	return err
}

// fill writes the exposures (one per unit) and the events in batches of
// 10,000 rows, in time order as an intake would. The treatment converts 10%
// more often. On SQLite the store folds the exposures into its units table
// in the background meanwhile, as it does under a real intake.
func fill(ctx context.Context, s store.Store, units, events int, t0 time.Time) error {
	rng := mrand.New(mrand.NewPCG(1, 2))
	var secret [8]byte
	_, _ = rand.Read(secret[:])
	token := func(i int) []byte {
		u := make([]byte, 16)
		binary.BigEndian.PutUint64(u, uint64(i)*0x9e3779b97f4a7c15^binary.BigEndian.Uint64(secret[:]))
		binary.BigEndian.PutUint64(u[8:], uint64(i))
		return u
	}
	span := float64(9 * 24 * time.Hour)
	first := make([]time.Time, units)
	batch := store.EventBatch{Env: "production", ReceivedAt: time.Now()}
	n := 0
	flush := func() error {
		if len(batch.Exposures)+len(batch.Tracks) == 0 {
			return nil
		}
		n++
		batch.ID = "fill-" + strconv.Itoa(n)
		if _, err := s.AppendEvents(ctx, []store.EventBatch{batch}); err != nil {
			return err
		}
		batch.Exposures, batch.Tracks = batch.Exposures[:0], batch.Tracks[:0]
		return nil
	}
	for i := range units {
		first[i] = t0.Add(time.Duration(float64(i) / float64(units) * span))
		variant := "control"
		if i%2 == 1 {
			variant = "treatment"
		}
		batch.Exposures = append(batch.Exposures, store.Exposure{Time: first[i], Unit: token(i), Flag: "checkout",
			Variant: variant, FlagVersion: 1, Reason: "SPLIT", Experiment: "checkout-test"})
		if len(batch.Exposures) == 10_000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Events follow their units' exposures, so they arrive roughly in time
	// order, as they would at an intake.
	perUnit := events / units
	extra := events - perUnit*units
	for i := range units {
		k := perUnit
		if i < extra {
			k++
		}
		p := 0.03
		if i%2 == 1 {
			p = 0.033
		}
		for range k {
			tr := store.Track{Time: first[i].Add(time.Duration(rng.Float64() * float64(time.Hour))), Unit: token(i), Name: "view", Value: 1, HasValue: true}
			if rng.Float64() < p {
				tr.Name, tr.Value, tr.HasValue = "purchase", math.Round(rng.ExpFloat64()*4000)/100, true
			}
			batch.Tracks = append(batch.Tracks, tr)
			if len(batch.Tracks) == 10_000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return nil
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
