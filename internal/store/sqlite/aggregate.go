package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

// aggregateSQL computes an experiment's per-variant sums of one metric,
// in three kinds of rows: kind 0, the sums of the per-unit values of units
// with at least one of the metric's events in range; kind 1, the number of
// analysed units per variant (units without events have the value 0 and
// add nothing to the sums); kind 2, the units exposed to several variants.
//
// exp groups the experiment's exposures per unit (its variant, whether it
// saw several, its first exposure), found through the runs of the
// experiment's flag in the window's minutes; ev reads the metric's events
// through the runs of their names. The join reads each event once, in that
// order (CROSS JOIN fixes it: SQLite has no hash join, and the other order
// would read the events once per unit), and finds its unit through an
// automatic index on exp; the per-unit sums are then grouped per variant.
// Times are Unix microseconds, minutes Unix minutes.
//
// Parameters: 1 env, 2 experiment, 3 from, 4 to, 5 event, 6 denominator
// event, 7 window (0 = none), 8 covariate span (0 = none), 9 earliest track
// time read (from − covariate span), 10 flag, 11 from's minute, 12 to's
// minute, 13 the earliest track time's minute.
const aggregateSQL = `
WITH exp AS MATERIALIZED (
  SELECT e.unit AS unit, min(e.variant) AS variant, max(e.variant) AS vmax, min(e.time) AS first
  FROM exposure_runs r CROSS JOIN exposures e ON e.seq BETWEEN r.first_seq AND r.last_seq
  WHERE r.env = ?1 AND r.flag = ?10 AND r.minute BETWEEN ?11 AND ?12
    AND e.env = ?1 AND e.flag = ?10 AND e.experiment = ?2 AND e.time >= ?3 AND e.time < ?4
  GROUP BY e.unit
),
ev AS (
  SELECT t.unit AS unit, t.name AS name, t.time AS time, t.value AS value
  FROM track_runs r CROSS JOIN tracks t ON t.seq BETWEEN r.first_seq AND r.last_seq
  WHERE r.env = ?1 AND r.name IN (?5, ?6) AND r.minute BETWEEN ?13 AND ?12
    AND t.env = ?1 AND t.name IN (?5, ?6) AND t.time >= ?9 AND t.time < ?4
),
per AS (
  SELECT e.variant AS variant,
    count(*) FILTER (WHERE t.name = ?5 AND t.time >= e.first AND (?7 = 0 OR t.time < e.first + ?7)) AS n_cnt,
    total(t.value) FILTER (WHERE t.name = ?5 AND t.time >= e.first AND (?7 = 0 OR t.time < e.first + ?7)) AS n_sum,
    total(t.value) FILTER (WHERE t.name = ?6 AND t.time >= e.first AND (?7 = 0 OR t.time < e.first + ?7)) AS d_sum,
    count(*) FILTER (WHERE t.name = ?5 AND t.time < e.first AND t.time >= e.first - ?8) AS x_cnt,
    total(t.value) FILTER (WHERE t.name = ?5 AND t.time < e.first AND t.time >= e.first - ?8) AS x_sum
  FROM ev t CROSS JOIN exp e ON e.unit = t.unit
  WHERE e.variant = e.vmax
  GROUP BY t.unit
),
vals AS (SELECT variant, {y} AS y, {d} AS d, {x} AS x FROM per)
SELECT 0, variant, 0, total(y), total(y*y), total(d), total(d*d), total(y*d), total(x), total(x*x), total(x*y)
FROM vals GROUP BY variant
UNION ALL
SELECT 1, variant, count(*), 0, 0, 0, 0, 0, 0, 0, 0 FROM exp WHERE variant = vmax GROUP BY variant
UNION ALL
SELECT 2, NULL, count(*), 0, 0, 0, 0, 0, 0, 0, 0 FROM exp WHERE variant <> vmax`

// AggregateExperiment implements store.AnalysisStore.
func (s *Store) AggregateExperiment(ctx context.Context, q store.AggregateQuery) (store.Aggregates, error) {
	y, d, x, err := backend.AggregateExpressions(q)
	if err != nil {
		return store.Aggregates{}, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, err)
	}
	query := strings.NewReplacer("{y}", y, "{d}", d, "{x}", x).Replace(aggregateSQL)
	from, to := micros(q.From), micros(q.To)
	cov := q.Covariate.Microseconds()
	rows, err := s.read.QueryContext(ctx, query, q.Env, q.Experiment, from, to, q.Event, q.Denominator,
		q.Window.Microseconds(), cov, from-cov, q.Flag, minuteOf(from), minuteOf(to), minuteOf(from-cov))
	if err != nil {
		return store.Aggregates{}, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	defer rows.Close()
	agg, err := backend.ReadAggregates(rows)
	if err != nil {
		return store.Aggregates{}, fmt.Errorf("aggregate experiment %q: %w", q.Experiment, translate(err))
	}
	return agg, nil
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
