package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

// aggregateSQL computes an experiment's per-variant sums of one metric,
// in four kinds of rows: kind 0, the sums of the per-unit values of units
// with at least one of the metric's events in range; kind 1, the number of
// analysed units per variant (units without events have the value 0 and
// add nothing to the sums); kind 2, the units exposed to several variants;
// kind 3, all analysed units, which tells whether units were exposed to
// variants that {counts} does not list.
//
// Units come from experiment_units (migration 0004), folded from the
// exposures: a unit whose exposures all lie in the window is taken from its
// row as it is; the units with exposures on both sides of an edge of the
// window ({edge}) are grouped again from their exposures in the window,
// found through the runs of the experiment's flag. The metric's events (ev,
// found through the runs of their names) are read once, in order of
// arrival, and each finds its unit's row by key. SQLite groups by sorting,
// so the query sorts only the events' rows (per unit, then per variant)
// and counts the units per variant in one pass over their rows with a
// FILTER per variant ({counts}), never sorting a million units. Times are
// Unix microseconds, minutes Unix minutes.
//
// Parameters: 1 env, 2 the experiment's number (experiment_keys), 3 from,
// 4 to, 5 event, 6 denominator event, 7 window (0 = none), 8 covariate span
// (0 = none), 9 earliest track time read (from − covariate span), 10 the
// earliest track time's minute, 11 to's minute, 12 flag, 13 experiment,
// 14 from's minute, then the variants {counts} lists.
const aggregateSQL = `
WITH ev AS (
  SELECT t.unit AS unit, t.name AS name, t.time AS time, t.value AS value
  FROM track_runs r CROSS JOIN tracks t ON t.seq BETWEEN r.first_seq AND r.last_seq
  WHERE r.env = ?1 AND r.name IN (?5, ?6) AND r.minute BETWEEN ?10 AND ?11
    AND t.env = ?1 AND t.name IN (?5, ?6) AND t.time >= ?9 AND t.time < ?4
),
edge AS MATERIALIZED ({edge}),
j AS (
  SELECT t.unit AS unit, t.name AS name, t.time AS time, t.value AS value,
    coalesce(g.first, u.first) AS first, coalesce(g.variant, u.variant) AS variant, coalesce(g.vmax, u.vmax) AS vmax
  FROM ev t CROSS JOIN experiment_units u ON u.xid = ?2 AND u.unit = t.unit
  LEFT JOIN edge g ON g.unit = t.unit
  WHERE (u.first >= ?3 AND u.last < ?4) OR g.unit IS NOT NULL
),
per AS (
  SELECT variant,
    count(*) FILTER (WHERE name = ?5 AND time >= first AND (?7 = 0 OR time < first + ?7)) AS n_cnt,
    total(value) FILTER (WHERE name = ?5 AND time >= first AND (?7 = 0 OR time < first + ?7)) AS n_sum,
    total(value) FILTER (WHERE name = ?6 AND time >= first AND (?7 = 0 OR time < first + ?7)) AS d_sum,
    count(*) FILTER (WHERE name = ?5 AND time < first AND time >= first - ?8) AS x_cnt,
    total(value) FILTER (WHERE name = ?5 AND time < first AND time >= first - ?8) AS x_sum
  FROM j WHERE variant = vmax
  GROUP BY unit
),
vals AS (SELECT variant, {y} AS y, {d} AS d, {x} AS x FROM per),
clean AS (
  SELECT variant, vmax FROM experiment_units WHERE xid = ?2 AND first >= ?3 AND last < ?4
),
units AS (
  SELECT variant, vmax FROM clean
  UNION ALL
  SELECT variant, vmax FROM edge
){countsCTE}
SELECT 0, variant, 0, total(y), total(y*y), total(d), total(d*d), total(y*d), total(x), total(x*x), total(x*y)
FROM vals GROUP BY variant
UNION ALL
{counts}`

// edgeSQL groups the exposures in the window of the units that have
// exposures on both sides of one of its edges.
const edgeSQL = `
  SELECT e.unit AS unit, min(e.variant) AS variant, max(e.variant) AS vmax, min(e.time) AS first
  FROM exposure_runs r CROSS JOIN exposures e ON e.seq BETWEEN r.first_seq AND r.last_seq
  WHERE r.env = ?1 AND r.flag = ?12 AND r.minute BETWEEN ?14 AND ?11
    AND e.env = ?1 AND e.flag = ?12 AND e.experiment = ?13 AND e.time >= ?3 AND e.time < ?4
    AND e.unit IN (` + edgeUnitsSQL + `)
  GROUP BY e.unit`

// edgeUnitsSQL selects the units with exposures on both sides of an edge
// of the window.
const edgeUnitsSQL = `SELECT unit FROM experiment_units
      WHERE xid = ?2 AND first < ?4 AND last >= ?3 AND (first < ?3 OR last >= ?4)`

// noEdgeSQL stands for edgeSQL when no unit is on an edge.
const noEdgeSQL = `SELECT NULL AS unit, NULL AS variant, NULL AS vmax, NULL AS first WHERE false`

// countsSQL returns the parts of aggregateSQL that count units per
// variant: for the variants listed, a CTE that counts them in one pass over
// the units with a FILTER per variant, and its rows, whose kind 3 row tells
// whether units were exposed to other variants; without a list, a GROUP BY,
// which sorts the units.
func countsSQL(variants int) (cte, rows string) {
	if variants == 0 {
		return "", `SELECT 1, variant, count(*), 0, 0, 0, 0, 0, 0, 0, 0 FROM units WHERE variant = vmax GROUP BY variant
UNION ALL
SELECT 2, NULL, count(*), 0, 0, 0, 0, 0, 0, 0, 0 FROM units WHERE variant <> vmax`
	}
	// The counts are taken over clean and edge apart and added: over their
	// union, SQLite would first copy the million rows.
	count := func(from string) string {
		var b strings.Builder
		b.WriteString("SELECT count(*) FILTER (WHERE variant = vmax) AS analysed, count(*) FILTER (WHERE variant <> vmax) AS multi")
		for i := range variants {
			fmt.Fprintf(&b, ", count(*) FILTER (WHERE variant = vmax AND variant = ?%d) AS c%d", aggregateParams+1+i, i)
		}
		return b.String() + " FROM " + from
	}
	cte = ",\nc1 AS MATERIALIZED (" + count("clean") + "),\nc2 AS MATERIALIZED (" + count("edge") + ")"
	var r strings.Builder
	r.WriteString("SELECT 3, NULL, c1.analysed + c2.analysed, 0, 0, 0, 0, 0, 0, 0, 0 FROM c1, c2\nUNION ALL\n" +
		"SELECT 2, NULL, c1.multi + c2.multi, 0, 0, 0, 0, 0, 0, 0, 0 FROM c1, c2")
	for i := range variants {
		fmt.Fprintf(&r, "\nUNION ALL\nSELECT 1, ?%d, c1.c%d + c2.c%d, 0, 0, 0, 0, 0, 0, 0, 0 FROM c1, c2", aggregateParams+1+i, i, i)
	}
	return cte, r.String()
}

// analysisMmapSize is how much of the database file an aggregation query
// may map into memory (SQLite's mmap_size).
const analysisMmapSize = 1 << 30

// aggregateParams is the number of aggregateSQL's fixed parameters.
const aggregateParams = 14

// AggregateExperiment implements store.AnalysisStore.
func (s *Store) AggregateExperiment(ctx context.Context, q store.AggregateQuery) (store.Aggregates, error) {
	agg, complete, err := s.aggregate(ctx, q, q.Variants)
	if err == nil && !complete {
		// Units were exposed to variants the query does not list: count
		// them all the slow way.
		agg, _, err = s.aggregate(ctx, q, nil)
	}
	return agg, err
}

// aggregate runs aggregateSQL, counting units with a FILTER per variant
// listed. complete is false when analysed units were exposed to a variant
// that is not listed.
func (s *Store) aggregate(ctx context.Context, q store.AggregateQuery, variants []string) (agg store.Aggregates, complete bool, err error) {
	y, d, x, err := backend.AggregateExpressions(q)
	if err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, err)
	}
	from, to := micros(q.From), micros(q.To)
	cov := q.Covariate.Microseconds()
	// Every exposure stored before the analysis began is folded first.
	if err := s.foldAll(ctx); err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, err)
	}
	var xid int64 // 0, no experiment's, when it has no exposures
	err = s.read.QueryRowContext(ctx, `SELECT id FROM experiment_keys WHERE env = ? AND experiment = ?`, q.Env, q.Experiment).Scan(&xid)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	args := []any{q.Env, xid, from, to, q.Event, q.Denominator,
		q.Window.Microseconds(), cov, from - cov, minuteOf(from - cov), minuteOf(to), q.Flag, q.Experiment, minuteOf(from)}
	// Most analyses have no unit on an edge: the grouping of exposures is
	// left out unless one is.
	edge := noEdgeSQL
	var onEdge bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (`+edgeUnitsSQL+`)`, args[:4]...).Scan(&onEdge); err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	if onEdge {
		edge = edgeSQL
	}
	for _, v := range variants {
		args = append(args, v)
	}
	cte, counts := countsSQL(len(variants))
	query := strings.NewReplacer("{y}", y, "{d}", d, "{x}", x, "{edge}", edge, "{countsCTE}", cte, "{counts}", counts).Replace(aggregateSQL)
	// The query looks up rows all over the event tables: read through the
	// page cache, a third of its time went to system calls copying pages.
	// Memory-mapping the file for the query's length spares them; the
	// mapping goes with the query, so it does not stay in the process.
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size = %d", analysisMmapSize)); err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA mmap_size = 0")
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	defer rows.Close()
	all, err := backend.ReadAggregateRows(rows)
	if err != nil {
		return store.Aggregates{}, false, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	var analysed, listed int64
	for _, r := range all {
		switch r.Kind {
		case 1:
			listed += r.Units
		case 3:
			analysed = r.Units
		}
	}
	return backend.CollectAggregates(all), len(variants) == 0 || analysed == listed, nil
}

// SaveAnalysis implements store.AnalysisStore.
func (s *Store) SaveAnalysis(ctx context.Context, a store.Analysis) error {
	err := s.inWriteTx(ctx, func(t *tx) error {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO experiment_analyses (env, experiment, phase, analyzed_at, result) VALUES (?, ?, ?, ?, ?)`,
			a.Env, a.Experiment, a.Phase, micros(a.Time), string(a.Result))
		return translate(err)
	})
	if err != nil {
		return fmt.Errorf("save analysis of experiment %q: %w", a.Experiment, err)
	}
	return nil
}

// Analyses implements store.AnalysisStore.
func (s *Store) Analyses(ctx context.Context, env, experiment string, limit int) ([]store.Analysis, error) {
	n := int64(limit)
	if limit <= 0 {
		n = -1 // SQLite: no limit
	}
	rows, err := s.read.QueryContext(ctx, `SELECT phase, analyzed_at, result FROM experiment_analyses
		WHERE env = ? AND experiment = ? ORDER BY analyzed_at DESC, rowid DESC LIMIT ?`, env, experiment, n)
	if err != nil {
		return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
	}
	defer rows.Close()
	var out []store.Analysis
	for rows.Next() {
		a := store.Analysis{Env: env, Experiment: experiment}
		var at int64
		var result string
		if err := rows.Scan(&a.Phase, &at, &result); err != nil {
			return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
		}
		a.Time, a.Result = fromMicros(at), []byte(result)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
	}
	return out, nil
}

// DistinctUnits implements store.AnalysisStore.
func (s *Store) DistinctUnits(ctx context.Context, env string, from, to time.Time) (int64, error) {
	lo, hi := micros(from), micros(to)
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (
		SELECT e.unit FROM exposure_runs r CROSS JOIN exposures e ON e.seq BETWEEN r.first_seq AND r.last_seq
		WHERE r.env = ?1 AND r.minute BETWEEN ?2 AND ?3 AND e.time >= ?4 AND e.time < ?5
		UNION
		SELECT t.unit FROM track_runs r CROSS JOIN tracks t ON t.seq BETWEEN r.first_seq AND r.last_seq
		WHERE r.env = ?1 AND r.minute BETWEEN ?2 AND ?3 AND t.time >= ?4 AND t.time < ?5)`,
		env, minuteOf(lo), minuteOf(hi), lo, hi).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("distinct units of %s: %w", env, translate(err))
	}
	return n, nil
}
