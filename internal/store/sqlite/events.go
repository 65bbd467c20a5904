package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

var _ store.EventStore = (*Store)(nil)

// The event tables are laid out for fast appends: rows numbered in order of
// arrival, no index, and a run table recording where each (environment,
// flag or metric name, minute) group of an append landed. See the
// migration 0002_events.sql.

// rowsPerInsert is the most event rows one INSERT statement writes. A
// statement has a fixed cost (a call through database/sql, a reset of the
// prepared statement) that its rows share: one row per statement takes
// about twice the CPU per event of 64, while 16 to 1,024 rows measure the
// same within noise (see BENCHMARKS.md); smaller statements take less
// memory.
const rowsPerInsert = 64

var (
	exposureColumns = []string{"env", "time", "unit", "flag", "variant", "flag_version", "reason", "experiment", "rollout"}
	trackColumns    = []string{"env", "time", "unit", "name", "value", "properties"}
)

// eventStatements are the statements of AppendEvents, prepared on the
// write connection when the store opens. (They cannot be prepared on
// demand: the write pool's only connection is then busy with the
// transaction that needs them.)
type eventStatements struct {
	batch                 *sql.Stmt
	exposureRun, trackRun *sql.Stmt
	exposures, tracks     *insertStatements
	all                   []*sql.Stmt
}

func prepareEventStatements(ctx context.Context, db *sql.DB) (*eventStatements, error) {
	s := &eventStatements{}
	var err error
	prepare := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		if st, err = db.PrepareContext(ctx, query); err == nil {
			s.all = append(s.all, st)
		}
		return st
	}
	s.batch = prepare(`INSERT INTO event_batches (env, id, received_at, events, dropped)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (env, id) DO NOTHING`)
	s.exposureRun = prepare(`INSERT INTO exposure_runs (env, flag, minute, first_seq, last_seq) VALUES (?, ?, ?, ?, ?)`)
	s.trackRun = prepare(`INSERT INTO track_runs (env, name, minute, first_seq, last_seq) VALUES (?, ?, ?, ?, ?)`)
	s.exposures = &insertStatements{table: "exposures", width: len(exposureColumns), bySize: map[int]*sql.Stmt{}}
	s.tracks = &insertStatements{table: "tracks", width: len(trackColumns), bySize: map[int]*sql.Stmt{}}
	for _, ins := range []struct {
		to      *insertStatements
		columns []string
	}{{s.exposures, exposureColumns}, {s.tracks, trackColumns}} {
		row := "(" + strings.Repeat("?, ", len(ins.columns)-1) + "?)"
		for rows := 1; rows <= rowsPerInsert; rows *= 2 {
			ins.to.bySize[rows] = prepare("INSERT INTO " + ins.to.table + " (" + strings.Join(ins.columns, ", ") +
				") VALUES " + strings.Repeat(row+", ", rows-1) + row)
		}
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("prepare event statements: %w", translate(err))
	}
	return s, nil
}

func (s *eventStatements) close() {
	if s == nil {
		return
	}
	for _, st := range s.all {
		st.Close()
	}
}

// insertStatements are the multi-row INSERT statements of one event table:
// one for each power of two up to rowsPerInsert rows, so any number of rows
// is written by a few statements without preparing one per size.
type insertStatements struct {
	table  string
	width  int // arguments per row
	bySize map[int]*sql.Stmt
}

// insert writes the rows whose arguments are args in t, a transaction of
// the write connection, and returns the seq number of the first; the
// others follow it.
func (s *insertStatements) insert(ctx context.Context, t *sql.Tx, args []any) (int64, error) {
	var first int64
	written := 0
	for rows := len(args) / s.width; rows > 0; {
		n := rowsPerInsert
		for n > rows {
			n /= 2
		}
		// The statement was prepared on the transaction's connection:
		// Tx.StmtContext uses it as it is.
		res, err := t.StmtContext(ctx, s.bySize[n]).ExecContext(ctx, args[:n*s.width]...)
		if err != nil {
			return 0, fmt.Errorf("insert into %s: %w", s.table, translate(err))
		}
		last, err := res.LastInsertId()
		if err != nil {
			return 0, fmt.Errorf("insert into %s: %w", s.table, translate(err))
		}
		// SQLite numbers new rows one after the largest number ever used,
		// and nothing else writes while the transaction holds the write
		// lock, so the rows of all statements are consecutive; runs rely
		// on it.
		if written == 0 {
			first = last - int64(n) + 1
		} else if last != first+int64(written+n)-1 {
			return 0, fmt.Errorf("insert into %s: rows were numbered %d after %d, not consecutively", s.table, last, first+int64(written)-1)
		}
		written += n
		args, rows = args[n*s.width:], rows-n
	}
	return first, nil
}

// micros is how the event tables store times.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// minuteOf is the Unix minute of a time in microseconds, rounded down.
func minuteOf(us int64) int64 {
	m := us / 60_000_000
	if us%60_000_000 < 0 {
		m--
	}
	return m
}

// nullable stores an absent string as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// runKey names a run: a group of one append's rows of one table with the
// same environment, flag (or name) and minute, stored consecutively.
type runKey struct {
	env, key string
	minute   int64
}

type run struct {
	runKey
	rows int
}

// eventRows are one table's rows of an append, ordered by run: args holds
// the arguments of the rows, run after run.
type eventRows struct {
	args []any
	runs []run
}

// grouper assigns events to runs.
type grouper struct {
	index map[runKey]int
	runs  []run
	runOf []int32 // the run of each event, in order of addition
}

func (g *grouper) add(env, key string, minute int64) {
	k := runKey{env: env, key: key, minute: minute}
	i, ok := g.index[k]
	if !ok {
		if g.index == nil {
			g.index = map[runKey]int{}
		}
		i = len(g.runs)
		g.index[k] = i
		g.runs = append(g.runs, run{runKey: k})
	}
	g.runs[i].rows++
	g.runOf = append(g.runOf, int32(i))
}

// slots returns, for each event in order of addition, the row it takes
// once rows are ordered by run.
func (g *grouper) slots() []int {
	next := make([]int, len(g.runs))
	at := 0
	for i, r := range g.runs {
		next[i] = at
		at += r.rows
	}
	slots := make([]int, len(g.runOf))
	for i, r := range g.runOf {
		slots[i] = next[r]
		next[r]++
	}
	return slots
}

// appendRows orders the exposures and track events of the batches not
// skipped into runs and returns their rows.
func appendRows(batches []store.EventBatch, skip []bool) (exposures, tracks eventRows) {
	var ge, gt grouper
	for i := range batches {
		if skip[i] {
			continue
		}
		b := &batches[i]
		for j := range b.Exposures {
			ge.add(b.Env, b.Exposures[j].Flag, minuteOf(micros(b.Exposures[j].Time)))
		}
		for j := range b.Tracks {
			gt.add(b.Env, b.Tracks[j].Name, minuteOf(micros(b.Tracks[j].Time)))
		}
	}
	exposures = eventRows{args: make([]any, len(ge.runOf)*len(exposureColumns)), runs: ge.runs}
	tracks = eventRows{args: make([]any, len(gt.runOf)*len(trackColumns)), runs: gt.runs}
	es, ts := ge.slots(), gt.slots()
	var ei, ti int
	for i := range batches {
		if skip[i] {
			continue
		}
		b := &batches[i]
		env := any(b.Env) // boxed once per batch, not once per row
		for j := range b.Exposures {
			e := &b.Exposures[j]
			w := len(exposureColumns)
			row := exposures.args[es[ei]*w : es[ei]*w+w]
			row[0], row[1], row[2], row[3], row[4] = env, micros(e.Time), e.Unit, e.Flag, e.Variant
			row[5], row[6], row[7], row[8] = e.FlagVersion, nullable(e.Reason), nullable(e.Experiment), nullable(e.Rollout)
			ei++
		}
		for j := range b.Tracks {
			e := &b.Tracks[j]
			w := len(trackColumns)
			row := tracks.args[ts[ti]*w : ts[ti]*w+w]
			row[0], row[1], row[2], row[3] = env, micros(e.Time), e.Unit, e.Name
			row[4], row[5] = nil, nil
			if e.HasValue {
				row[4] = e.Value
			}
			if e.Properties != nil {
				row[5] = string(e.Properties)
			}
			ti++
		}
	}
	return exposures, tracks
}

// write inserts the rows with ins and records their runs with runStmt.
func (r *eventRows) write(ctx context.Context, t *sql.Tx, ins *insertStatements, runStmt *sql.Stmt) error {
	if len(r.args) == 0 {
		return nil
	}
	seq, err := ins.insert(ctx, t, r.args)
	if err != nil {
		return err
	}
	st := t.StmtContext(ctx, runStmt)
	for _, run := range r.runs {
		if _, err := st.ExecContext(ctx, run.env, run.key, run.minute, seq, seq+int64(run.rows)-1); err != nil {
			return fmt.Errorf("record a run of %s: %w", ins.table, translate(err))
		}
		seq += int64(run.rows)
	}
	return nil
}

// AppendEvents implements store.EventStore. All batches are written in one
// write transaction; a batch for an environment that does not exist makes
// the whole call store.ErrInvalid.
func (s *Store) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	dup, envs, err := backend.CheckEvents(batches)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	if len(batches) == 0 {
		return dup, nil
	}
	// The rows are prepared before the transaction begins, so the write
	// lock is held only while SQLite works; they are prepared again in
	// the rare case that a batch turns out to be stored already.
	exposures, tracks := appendRows(batches, dup)
	err = s.inWriteTx(ctx, func(t *tx) error {
		for _, env := range envs {
			var ok bool
			if err := t.tx.QueryRowContext(ctx, `SELECT `+environmentKnown, env).Scan(&ok); err != nil {
				return fmt.Errorf("append events: %w", translate(err))
			}
			if !ok {
				return fmt.Errorf("append events: %w: environment %q does not exist", store.ErrInvalid, env)
			}
		}
		insertBatch := t.tx.StmtContext(ctx, s.events.batch)
		storedBefore := false
		for i := range batches {
			if dup[i] {
				continue
			}
			b := &batches[i]
			res, err := insertBatch.ExecContext(ctx, b.Env, b.ID, micros(b.ReceivedAt), len(b.Exposures)+len(b.Tracks), b.Dropped)
			if err != nil {
				return fmt.Errorf("append events: batch %q: %w", b.ID, translate(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("append events: batch %q: %w", b.ID, translate(err))
			}
			if n == 0 {
				dup[i], storedBefore = true, true // by an earlier call
			}
		}
		if storedBefore {
			exposures, tracks = appendRows(batches, dup)
		}
		if err := exposures.write(ctx, t.tx, s.events.exposures, s.events.exposureRun); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		if err := tracks.write(ctx, t.tx, s.events.tracks, s.events.trackRun); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dup, nil
}

// EventStats implements store.EventStore. The three queries run in one
// read transaction, so they see one snapshot.
func (s *Store) EventStats(ctx context.Context, env string, from, to time.Time) (store.EventStats, error) {
	var st store.EventStats
	rtx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("event stats: %w", translate(err))
	}
	defer rtx.Rollback()
	lo, hi := micros(from), micros(to)
	// The runs of the minutes from lo to hi hold the events of the window.
	window := []any{env, minuteOf(lo), minuteOf(hi), lo, hi}
	var last int64
	rows, err := rtx.QueryContext(ctx, `SELECT e.flag, e.variant, coalesce(e.experiment, ''), coalesce(e.rollout, ''), count(*), max(e.time)
		FROM exposure_runs r CROSS JOIN exposures e ON e.seq BETWEEN r.first_seq AND r.last_seq
		WHERE r.env = ?1 AND r.minute BETWEEN ?2 AND ?3 AND e.time >= ?4 AND e.time < ?5
		GROUP BY e.flag, e.variant, e.experiment, e.rollout`, window...)
	if err != nil {
		return st, fmt.Errorf("event stats: exposures: %w", translate(err))
	}
	for rows.Next() {
		var c store.FlagVariantCount
		var newest int64
		if err := rows.Scan(&c.Flag, &c.Variant, &c.Experiment, &c.Rollout, &c.Exposures, &newest); err != nil {
			rows.Close()
			return st, fmt.Errorf("event stats: exposures: %w", translate(err))
		}
		st.Flags = append(st.Flags, c)
		last = max(last, newest)
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("event stats: exposures: %w", translate(err))
	}
	rows, err = rtx.QueryContext(ctx, `SELECT e.name, count(*), count(e.value), total(e.value), max(e.time)
		FROM track_runs r CROSS JOIN tracks e ON e.seq BETWEEN r.first_seq AND r.last_seq
		WHERE r.env = ?1 AND r.minute BETWEEN ?2 AND ?3 AND e.time >= ?4 AND e.time < ?5
		GROUP BY e.name`, window...)
	if err != nil {
		return st, fmt.Errorf("event stats: track events: %w", translate(err))
	}
	for rows.Next() {
		var m store.MetricCount
		var newest int64
		if err := rows.Scan(&m.Name, &m.Events, &m.WithValue, &m.Sum, &newest); err != nil {
			rows.Close()
			return st, fmt.Errorf("event stats: track events: %w", translate(err))
		}
		st.Metrics = append(st.Metrics, m)
		last = max(last, newest)
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("event stats: track events: %w", translate(err))
	}
	if err := rtx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(dropped), 0)
		FROM event_batches WHERE env = ? AND received_at >= ? AND received_at < ?`, env, lo, hi).Scan(&st.Batches, &st.Dropped); err != nil {
		return st, fmt.Errorf("event stats: batches: %w", translate(err))
	}
	if len(st.Flags)+len(st.Metrics) > 0 {
		st.LastEvent = fromMicros(last)
	}
	backend.FinishEventStats(&st)
	return st, nil
}

// DeleteEventsBefore implements store.EventStore: in one write
// transaction it deletes up to limit rows, exposures first, then track
// events, then batch records.
func (s *Store) DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error) {
	if err := backend.CheckDeleteLimit(limit); err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	cutoff := micros(before)
	var deleted int64
	forgot := false
	err := s.inWriteTx(ctx, func(t *tx) error {
		forgot = false
		for _, q := range []struct{ what, rows, runs, key string }{
			{"exposures", "exposures", "exposure_runs", "flag"},
			{"track events", "tracks", "track_runs", "name"},
		} {
			left := int64(limit) - deleted
			if left == 0 {
				break
			}
			// Rows go oldest run first, through the runs of minutes up to
			// the cutoff's, whose rows are checked one by one. SQLite has
			// no DELETE … LIMIT unless compiled for it.
			res, err := t.tx.ExecContext(ctx, `DELETE FROM `+q.rows+` WHERE seq IN (
				SELECT e.seq FROM `+q.runs+` r CROSS JOIN `+q.rows+` e ON e.seq BETWEEN r.first_seq AND r.last_seq
				WHERE r.env = ?1 AND r.minute <= ?2 AND e.time < ?3 LIMIT ?4)`, env, minuteOf(cutoff), cutoff, left)
			if err != nil {
				return fmt.Errorf("delete %s: %w", q.what, translate(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("delete %s: %w", q.what, translate(err))
			}
			deleted += n
			if q.rows == "exposures" && n < left && s.forgotten(env) < cutoff {
				// The exposures before the cutoff are gone: so are the
				// units whose last exposure was one of them, and the
				// units that kept only later ones are marked to be
				// grouped again from those (see migration 0004).
				if err := forgetExperimentUnits(ctx, t.tx, env, cutoff); err != nil {
					return err
				}
				forgot = true
			}
			// Runs go when their rows are gone. Rows were deleted in the
			// order of the runs by minute, so the runs this emptied are
			// among the first left; one emptied at the cutoff's minute,
			// behind runs that still hold newer rows, may wait for a later
			// cutoff.
			if _, err := t.tx.ExecContext(ctx, `DELETE FROM `+q.runs+` WHERE (env, `+q.key+`, minute, first_seq) IN (
				SELECT r.env, r.`+q.key+`, r.minute, r.first_seq FROM (SELECT * FROM `+q.runs+`
					WHERE env = ?1 AND minute <= ?2 LIMIT ?3) r
				WHERE NOT EXISTS (SELECT 1 FROM `+q.rows+` e WHERE e.seq BETWEEN r.first_seq AND r.last_seq))`,
				env, minuteOf(cutoff), left); err != nil {
				return fmt.Errorf("delete runs of %s: %w", q.what, translate(err))
			}
		}
		if left := int64(limit) - deleted; left > 0 {
			res, err := t.tx.ExecContext(ctx, `DELETE FROM event_batches WHERE env = ?1 AND id IN
				(SELECT id FROM event_batches WHERE env = ?1 AND received_at < ?2 LIMIT ?3)`, env, cutoff, left)
			if err != nil {
				return fmt.Errorf("delete batch records: %w", translate(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("delete batch records: %w", translate(err))
			}
			deleted += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete events in %q: %w", env, err)
	}
	if forgot {
		s.forgot(env, cutoff)
	}
	return deleted, nil
}

// UnitTokenKey implements store.EventStore. The key is read without the
// write lock once it exists.
func (s *Store) UnitTokenKey(ctx context.Context, env string) ([]byte, error) {
	key, err := unitTokenKey(ctx, s.read, env)
	if err != nil || key != nil {
		return key, err
	}
	err = s.inWriteTx(ctx, func(t *tx) error {
		// The write transaction holds the database's write lock, so no
		// other process can insert between the check and the insert;
		// ON CONFLICT is there for the reader that lost the race above.
		_, err := t.tx.ExecContext(ctx, `INSERT INTO unit_token_keys (env, key, created_at)
			SELECT ?1, ?2, ?3 WHERE `+environmentKnown+` ON CONFLICT (env) DO NOTHING`,
			env, backend.NewUnitTokenKey(), micros(s.now()))
		if err != nil {
			return fmt.Errorf("unit token key of %q: %w", env, translate(err))
		}
		key, err = unitTokenKey(ctx, t.tx, env)
		return err
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// environmentKnown is true when the environment ?1 exists.
const environmentKnown = `EXISTS (SELECT 1 FROM current WHERE kind = 'environment' AND key = ?1 AND env = '' AND deleted = 0)`

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// unitTokenKey returns the key of env, nil if it has none yet, or
// store.ErrNotFound if env does not exist.
func unitTokenKey(ctx context.Context, q querier, env string) ([]byte, error) {
	var key []byte
	err := q.QueryRowContext(ctx, `SELECT u.key FROM current c LEFT JOIN unit_token_keys u ON u.env = c.key
		WHERE c.kind = 'environment' AND c.key = ? AND c.env = '' AND c.deleted = 0`, env).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("unit token key of %q: %w", env, translate(err))
	}
	return key, nil
}

// forgetExperimentUnits brings experiment_units in line with retention,
// once it has deleted an environment's exposures before cutoff: rows whose
// last exposure was before it go, and rows whose first was have first set
// to 0. It reads the environment's experiments' units once.
func forgetExperimentUnits(ctx context.Context, t *sql.Tx, env string, cutoff int64) error {
	const before = `xid IN (SELECT id FROM experiment_keys WHERE env = ?1) AND first < ?2`
	if _, err := t.ExecContext(ctx, `DELETE FROM experiment_units WHERE `+before+` AND last < ?2`, env, cutoff); err != nil {
		return fmt.Errorf("delete experiment units: %w", translate(err))
	}
	if _, err := t.ExecContext(ctx, `UPDATE experiment_units SET first = 0 WHERE `+before+` AND first > 0`, env, cutoff); err != nil {
		return fmt.Errorf("update experiment units: %w", translate(err))
	}
	return nil
}

// forgotten returns the latest cutoff up to which experiment_units of env
// were brought in line with retention (forgetExperimentUnits), so that a
// retention run reads the units once, not once per chunk it deletes.
func (s *Store) forgotten(env string) int64 {
	s.forgetMu.Lock()
	defer s.forgetMu.Unlock()
	return s.forgottenTo[env]
}

// forgot records that experiment_units of env are in line with retention
// up to cutoff; it is called once the transaction that did it committed.
func (s *Store) forgot(env string, cutoff int64) {
	s.forgetMu.Lock()
	defer s.forgetMu.Unlock()
	if s.forgottenTo == nil {
		s.forgottenTo = map[string]int64{}
	}
	s.forgottenTo[env] = max(s.forgottenTo[env], cutoff)
}
