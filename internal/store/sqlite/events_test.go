package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// The conformance suite checks what the event store does; these tests
// check the bookkeeping that makes it fast: runs of consecutive rows per
// (environment, flag or name, minute).

func openWithEnvironment(t *testing.T) *Store {
	t.Helper()
	return openWithEnvironmentAt(t, filepath.Join(t.TempDir(), "weir.db"))
}

// openWithEnvironmentAt opens a new database at path with an environment
// production.
func openWithEnvironmentAt(t *testing.T, path string) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Commit(ctx, &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
		{Kind: store.KindEnvironment, Key: "production", Environment: &flagmodel.Environment{Key: "production"}},
	}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// interleaved is a batch whose events alternate between flags, names and
// minutes, so that no run is stored in the order the events came.
func interleaved(id string, start time.Time, n int) store.EventBatch {
	b := store.EventBatch{Env: "production", ID: id, ReceivedAt: start.Add(3 * time.Minute)}
	for i := range n {
		at := start.Add(time.Duration(i%3)*time.Minute + time.Duration(i)*time.Millisecond)
		unit := []byte(fmt.Sprintf("unit-%011d", i))
		b.Exposures = append(b.Exposures, store.Exposure{Time: at, Unit: unit, Flag: fmt.Sprint("flag-", i%2), Variant: "on", FlagVersion: 1})
		b.Tracks = append(b.Tracks, store.Track{Time: at, Unit: unit, Name: fmt.Sprint("metric-", i%4)})
	}
	return b
}

// checkRuns fails unless every run holds rows, all of them its own, and
// every row is in exactly one run.
func checkRuns(t *testing.T, s *Store) {
	t.Helper()
	for _, q := range []struct{ rows, runs, key string }{{"exposures", "exposure_runs", "flag"}, {"tracks", "track_runs", "name"}} {
		var bad, runs, covered, rows int
		err := s.read.QueryRow(`SELECT
			(SELECT count(*) FROM `+q.runs+` r WHERE last_seq < first_seq
				OR NOT EXISTS (SELECT 1 FROM `+q.rows+` e WHERE e.seq BETWEEN r.first_seq AND r.last_seq)
				OR EXISTS (SELECT 1 FROM `+q.rows+` e WHERE e.seq BETWEEN r.first_seq AND r.last_seq
					AND (e.env != r.env OR e.`+q.key+` != r.`+q.key+` OR e.time / 60000000 != r.minute))),
			(SELECT count(*) FROM `+q.runs+`),
			(SELECT count(*) FROM `+q.runs+` r JOIN `+q.rows+` e ON e.seq BETWEEN r.first_seq AND r.last_seq),
			(SELECT count(*) FROM `+q.rows+`)`).Scan(&bad, &runs, &covered, &rows)
		if err != nil {
			t.Fatal(err)
		}
		if bad != 0 || covered != rows {
			t.Errorf("%s: %d of %d runs are empty or hold rows of others; runs hold %d rows of %d", q.rows, bad, runs, covered, rows)
		}
	}
}

func TestAppendsStoreEachRunConsecutively(t *testing.T) {
	s := openWithEnvironment(t)
	ctx := context.Background()
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		// 700 events per table: more than one statement of rowsPerInsert
		// rows, and a remainder.
		if _, err := s.AppendEvents(ctx, []store.EventBatch{
			interleaved(fmt.Sprint("a", i), start, 700), interleaved(fmt.Sprint("b", i), start.Add(time.Minute), 6),
		}); err != nil {
			t.Fatal(err)
		}
	}
	checkRuns(t, s)
	var runs int
	if err := s.read.QueryRow(`SELECT count(*) FROM exposure_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	// Per append: 2 flags × 4 minutes (the first three for batch a, the
	// last three for batch b), one run each.
	if runs != 3*2*4 {
		t.Errorf("%d exposure runs, want %d: one per append, flag and minute", runs, 3*2*4)
	}
}

func TestRetentionDeletesRunsWithTheirRowsAndNumbersAreNeverReused(t *testing.T) {
	s := openWithEnvironment(t)
	ctx := context.Background()
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := s.AppendEvents(ctx, []store.EventBatch{interleaved("a", start, 700)}); err != nil {
		t.Fatal(err)
	}
	var before int64
	if err := s.read.QueryRow(`SELECT max(seq) FROM tracks`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// In the middle of a minute, then after everything.
	for _, cutoff := range []time.Time{start.Add(time.Minute + 300*time.Millisecond), start.Add(time.Hour)} {
		for {
			n, err := s.DeleteEventsBefore(ctx, "production", cutoff, 97)
			if err != nil {
				t.Fatal(err)
			}
			if n < 97 {
				break
			}
		}
		checkRuns(t, s)
	}
	var left, runs int
	if err := s.read.QueryRow(`SELECT (SELECT count(*) FROM tracks) + (SELECT count(*) FROM exposures),
		(SELECT count(*) FROM track_runs) + (SELECT count(*) FROM exposure_runs)`).Scan(&left, &runs); err != nil {
		t.Fatal(err)
	}
	if left != 0 || runs != 0 {
		t.Fatalf("after deleting everything: %d rows and %d runs left", left, runs)
	}
	if _, err := s.AppendEvents(ctx, []store.EventBatch{interleaved("b", start, 10)}); err != nil {
		t.Fatal(err)
	}
	var first int64
	if err := s.read.QueryRow(`SELECT min(seq) FROM tracks`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first <= before {
		t.Fatalf("new rows are numbered from %d, at or below the deleted rows' %d", first, before)
	}
	checkRuns(t, s)
}

// crashHelper names the database the test binary, run again as a helper,
// appends to before it is killed.
const crashHelper = "WEIR_SQLITE_CRASH_HELPER_DB"

func TestAppendedEventsSurviveTheProcessBeingKilled(t *testing.T) {
	if path := os.Getenv(crashHelper); path != "" {
		appendThenWait(path)
		return
	}
	path := filepath.Join(t.TempDir(), "weir.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(context.Background(), &store.Changeset{Actor: "alice", Action: "apply", Changes: []store.Change{
		{Kind: store.KindEnvironment, Key: "production", Environment: &flagmodel.Environment{Key: "production"}},
	}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	helper := exec.Command(os.Args[0], "-test.run=^TestAppendedEventsSurviveTheProcessBeingKilled$")
	helper.Env = append(os.Environ(), crashHelper+"="+path)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "appended\n" {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper said %q (%v), want appended", line, err)
	}
	// SIGKILL: no deferred Close, no checkpoint, nothing flushed.
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()

	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	st, err := s.EventStats(context.Background(), "production", start.Add(-time.Hour), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Batches != 1 || st.Exposures != 700 || st.Tracks != 700 {
		t.Fatalf("after the writer was killed: %d batches, %d exposures, %d track events; want 1, 700, 700", st.Batches, st.Exposures, st.Tracks)
	}
}

// appendThenWait appends a batch, says so on standard output and waits to
// be killed.
func appendThenWait(path string) {
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := s.AppendEvents(context.Background(), []store.EventBatch{interleaved("a", start, 700)}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("appended")
	time.Sleep(time.Hour) // until killed
}
