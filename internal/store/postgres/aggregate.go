package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

// aggregateSQL computes an experiment's per-variant sums of one metric in
// the three kinds of rows of the SQLite backend's query, which has the same
// shape; PostgreSQL hash-joins the metric's events with the per-unit
// exposure aggregate.
//
// Parameters: 1 env, 2 experiment, 3 from, 4 to, 5 event, 6 denominator
// event, 7 window in microseconds (0 = none), 8 covariate span in
// microseconds (0 = none), 9 earliest track time read, 10 the flag. The
// minute conditions let the (env, flag or name, minute) indexes find the
// rows; the exact times are checked on them.
const aggregateSQL = `
WITH exp AS MATERIALIZED (
  SELECT unit, min(variant) AS variant, max(variant) AS vmax, min(time) AS first
  FROM exposures
  WHERE env = $1 AND flag = $10 AND minute >= date_bin('1 minute', $3, timestamptz '1970-01-01 00:00:00+00') AND minute <= $4
    AND experiment = $2 AND time >= $3 AND time < $4
  GROUP BY unit
),
per AS (
  SELECT min(e.variant) AS variant,
    count(*) FILTER (WHERE t.name = $5 AND t.time >= e.first AND ($7::bigint = 0 OR t.time < e.first + $7::bigint * interval '1 microsecond')) AS n_cnt,
    coalesce(sum(t.value) FILTER (WHERE t.name = $5 AND t.time >= e.first AND ($7::bigint = 0 OR t.time < e.first + $7::bigint * interval '1 microsecond')), 0) AS n_sum,
    coalesce(sum(t.value) FILTER (WHERE t.name = $6 AND t.time >= e.first AND ($7::bigint = 0 OR t.time < e.first + $7::bigint * interval '1 microsecond')), 0) AS d_sum,
    count(*) FILTER (WHERE t.name = $5 AND t.time < e.first AND t.time >= e.first - $8::bigint * interval '1 microsecond') AS x_cnt,
    coalesce(sum(t.value) FILTER (WHERE t.name = $5 AND t.time < e.first AND t.time >= e.first - $8::bigint * interval '1 microsecond'), 0) AS x_sum
  FROM tracks t JOIN exp e ON e.unit = t.unit
  WHERE t.env = $1 AND t.name IN ($5, $6) AND t.minute >= date_bin('1 minute', $9, timestamptz '1970-01-01 00:00:00+00') AND t.minute <= $4
    AND t.time >= $9 AND t.time < $4 AND e.variant = e.vmax
  GROUP BY t.unit
),
vals AS (SELECT variant, {y}::float8 AS y, {d}::float8 AS d, {x}::float8 AS x FROM per)
SELECT 0, variant, 0::bigint, coalesce(sum(y), 0), coalesce(sum(y*y), 0), coalesce(sum(d), 0), coalesce(sum(d*d), 0),
       coalesce(sum(y*d), 0), coalesce(sum(x), 0), coalesce(sum(x*x), 0), coalesce(sum(x*y), 0)
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
	from, to := backend.Timestamp(q.From), backend.Timestamp(q.To)
	rows, err := s.pool.Query(ctx, query, q.Env, q.Experiment, from, to, q.Event, q.Denominator,
		q.Window.Microseconds(), q.Covariate.Microseconds(), from.Add(-q.Covariate), q.Flag)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO experiment_analyses (env, experiment, phase, analyzed_at, result) VALUES ($1, $2, $3, $4, $5)`,
		a.Env, a.Experiment, a.Phase, backend.Timestamp(a.Time), string(a.Result))
	if err != nil {
		return fmt.Errorf("save analysis of experiment %q: %w", a.Experiment, translate(err))
	}
	return nil
}

// Analyses implements store.AnalysisStore.
func (s *Store) Analyses(ctx context.Context, env, experiment string, limit int) ([]store.Analysis, error) {
	n := int64(limit)
	if limit <= 0 {
		n = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, `SELECT phase, analyzed_at, result::text FROM experiment_analyses
		WHERE env = $1 AND experiment = $2 ORDER BY analyzed_at DESC LIMIT $3`, env, experiment, n)
	if err != nil {
		return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
	}
	defer rows.Close()
	var out []store.Analysis
	for rows.Next() {
		a := store.Analysis{Env: env, Experiment: experiment}
		var result string
		if err := rows.Scan(&a.Phase, &a.Time, &result); err != nil {
			return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
		}
		a.Time, a.Result = a.Time.UTC(), []byte(result)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analyses of experiment %q: %w", experiment, translate(err))
	}
	return out, nil
}

// DistinctUnits implements store.AnalysisStore.
func (s *Store) DistinctUnits(ctx context.Context, env string, from, to time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT unit FROM exposures WHERE env = $1 AND time >= $2 AND time < $3
		UNION
		SELECT unit FROM tracks WHERE env = $1 AND time >= $2 AND time < $3) u`,
		env, backend.Timestamp(from), backend.Timestamp(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("distinct units of %s: %w", env, translate(err))
	}
	return n, nil
}
