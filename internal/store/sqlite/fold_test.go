package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// foldFixture appends exposures of two experiments in three batches: units
// seen again, out of time order, one unit in two variants, and exposures
// that serve no experiment.
func foldFixture(t *testing.T, s *Store) {
	t.Helper()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for b := range 3 {
		batch := store.EventBatch{Env: "production", ID: fmt.Sprint("fold-", b), ReceivedAt: t0}
		for i := range 20 {
			e := store.Exposure{Time: t0.Add(time.Duration(20-i+b*7) * time.Second), Unit: []byte(fmt.Sprintf("unit-%02d", (i*7+b)%13)),
				Flag: "checkout", Variant: []string{"control", "treatment"}[i%2], FlagVersion: 1, Experiment: []string{"a-test", "b-test", ""}[(i+b)%3]}
			batch.Exposures = append(batch.Exposures, e)
		}
		if _, err := s.AppendEvents(context.Background(), []store.EventBatch{batch}); err != nil {
			t.Fatal(err)
		}
	}
}

// unitsDiffer counts the differences between experiment_units and the
// exposures grouped per experiment and unit.
func unitsDiffer(t *testing.T, s *Store) int {
	t.Helper()
	const grouped = `SELECT k.id, e.unit, min(e.time), max(e.time), min(e.variant), max(e.variant)
		FROM exposures e JOIN experiment_keys k ON k.env = e.env AND k.experiment = e.experiment GROUP BY k.id, e.unit`
	var n int
	if err := s.read.QueryRow(`SELECT count(*) FROM (SELECT * FROM (` + grouped + `) EXCEPT SELECT * FROM experiment_units
		UNION ALL SELECT * FROM (SELECT * FROM experiment_units EXCEPT SELECT * FROM (` + grouped + `)))`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFoldingInBatchesEqualsGroupingTheExposures(t *testing.T) {
	s := openWithEnvironment(t)
	foldFixture(t, s)
	ctx := context.Background()
	for {
		n, err := s.foldOnce(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if n < 7 {
			break
		}
	}
	if d := unitsDiffer(t, s); d != 0 {
		t.Fatalf("experiment_units differs from the grouped exposures in %d rows", d)
	}
	var folded, newest, units int64
	if err := s.read.QueryRow(`SELECT (SELECT folded_seq FROM experiment_folds), (SELECT max(seq) FROM exposures),
		(SELECT count(*) FROM experiment_units)`).Scan(&folded, &newest, &units); err != nil {
		t.Fatal(err)
	}
	if folded != newest || units == 0 {
		t.Fatalf("folded up to %d of %d exposures, %d units", folded, newest, units)
	}
	// Folding again changes nothing.
	if n, err := s.foldOnce(ctx, 7); err != nil || n != 0 {
		t.Fatalf("a second fold read %d exposures, err %v", n, err)
	}
}

func TestTheMigrationFoldsExposuresStoredBeforeIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "weir.db")
	s := openWithEnvironmentAt(t, path)
	foldFixture(t, s)
	// Back to the schema before migration 0004, with its exposures stored.
	for _, q := range []string{`DROP TABLE experiment_units`, `DROP TABLE experiment_keys`, `DROP TABLE experiment_folds`,
		`DELETE FROM schema_migrations WHERE version = 4`} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d := unitsDiffer(t, s); d != 0 {
		t.Fatalf("after the migration, experiment_units differs from the grouped exposures in %d rows", d)
	}
	var units int
	if err := s.read.QueryRow(`SELECT count(*) FROM experiment_units`).Scan(&units); err != nil || units == 0 {
		t.Fatalf("%d units after the migration, err %v", units, err)
	}
}

// BenchmarkFoldBatch measures folding one batch of foldBatch exposures of
// an experiment (units drawn from 1,000,000, so most are new at first) into
// a table that already holds the units of the batches before it.
func BenchmarkFoldBatch(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "weir.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	close(s.stopFold) // the benchmark folds by itself
	<-s.foldDone
	s.stopFold = nil
	ctx := context.Background()
	if _, err := s.Commit(ctx, &store.Changeset{Actor: "bench", Action: "apply", Changes: []store.Change{
		{Kind: store.KindEnvironment, Key: "production", Environment: &flagmodel.Environment{Key: "production"}},
	}}); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	x := uint64(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range foldBatch / 10_000 {
			batch := store.EventBatch{Env: "production", ID: fmt.Sprint("bench-", i, "-", j), ReceivedAt: t0}
			for k := range 10_000 {
				x = x*6364136223846793005 + 1442695040888963407
				unit := []byte(fmt.Sprintf("%016x", x%1_000_000))
				batch.Exposures = append(batch.Exposures, store.Exposure{Time: t0.Add(time.Duration(i*foldBatch+j*10_000+k) * time.Millisecond),
					Unit: unit, Flag: "checkout", Variant: []string{"control", "treatment"}[x>>40&1], FlagVersion: 1, Experiment: "checkout-test"})
			}
			if _, err := s.AppendEvents(ctx, []store.EventBatch{batch}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if n, err := s.foldOnce(ctx, foldBatch); err != nil || n != foldBatch {
			b.Fatalf("folded %d, err %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*foldBatch), "ns/exposure")
}
