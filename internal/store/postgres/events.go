package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

var _ store.EventStore = (*Store)(nil)

// environmentKnown is true when the environment $1 exists.
const environmentKnown = `EXISTS (SELECT 1 FROM current WHERE kind = 'environment' AND key = $1 AND env = '' AND NOT deleted)`

// AppendEvents implements store.EventStore. All batches are written in one
// transaction, in a fixed number of round trips whatever their size: one
// query checks the environments, one inserts the batch records and returns
// the new ones, and COPY writes the events. A batch for an environment that
// does not exist makes the whole call store.ErrInvalid.
//
// Two replicas appending the same batch at once are safe: the second
// insert of its record waits for the first transaction and, once that
// commits, skips it.
func (s *Store) AppendEvents(ctx context.Context, batches []store.EventBatch) ([]bool, error) {
	dup, envs, err := backend.CheckEvents(batches)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	if len(batches) == 0 {
		return dup, nil
	}
	err = s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		var known int
		if err := t.QueryRow(ctx, `SELECT count(*) FROM current
			WHERE kind = 'environment' AND key = ANY($1) AND env = '' AND NOT deleted`, envs).Scan(&known); err != nil {
			return fmt.Errorf("append events: %w", translate(err))
		}
		if known != len(envs) {
			return fmt.Errorf("append events: %w: %s", store.ErrInvalid, unknownEnvironments(ctx, t, envs))
		}

		// The records go in in (env, id) order: two transactions that
		// insert the same records then wait for each other in the same
		// order, never in a cycle (a deadlock).
		var order []int
		for i := range batches {
			if !dup[i] {
				order = append(order, i)
			}
		}
		slices.SortFunc(order, func(i, j int) int {
			return cmp.Or(cmp.Compare(batches[i].Env, batches[j].Env), cmp.Compare(batches[i].ID, batches[j].ID))
		})
		type batchKey struct{ env, id string }
		pending := make(map[batchKey]int, len(order))
		benv, bid := make([]string, len(order)), make([]string, len(order))
		received, events, dropped := make([]time.Time, len(order)), make([]int64, len(order)), make([]int64, len(order))
		for k, i := range order {
			b := &batches[i]
			pending[batchKey{b.Env, b.ID}] = i
			benv[k], bid[k] = b.Env, b.ID
			received[k] = backend.Timestamp(b.ReceivedAt)
			events[k] = int64(len(b.Exposures) + len(b.Tracks))
			dropped[k] = b.Dropped
		}
		rows, err := t.Query(ctx, `INSERT INTO event_batches (env, id, received_at, events, dropped)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[])
			ON CONFLICT (env, id) DO NOTHING
			RETURNING env, id`, benv, bid, received, events, dropped)
		if err != nil {
			return fmt.Errorf("append events: batch records: %w", translate(err))
		}
		var k batchKey
		stored := make([]int, 0, len(pending))
		_, err = pgx.ForEachRow(rows, []any{&k.env, &k.id}, func() error {
			stored = append(stored, pending[k])
			delete(pending, k)
			return nil
		})
		if err != nil {
			return fmt.Errorf("append events: batch records: %w", translate(err))
		}
		for _, i := range pending {
			dup[i] = true // stored by an earlier call
		}
		slices.Sort(stored) // events go in in call order
		return copyEvents(ctx, t, batches, stored)
	})
	if err != nil {
		return nil, err
	}
	return dup, nil
}

// copyEvents writes the events of the batches with the given indexes with
// COPY, one per table.
func copyEvents(ctx context.Context, t pgx.Tx, batches []store.EventBatch, indexes []int) error {
	var b, e int // the batch and event being copied
	row := make([]any, 9)
	next := func(events func(*store.EventBatch) int) bool {
		for b < len(indexes) {
			if e < events(&batches[indexes[b]]) {
				e++
				return true
			}
			b, e = b+1, 0
		}
		return false
	}
	exposures := func(b *store.EventBatch) int { return len(b.Exposures) }
	_, err := t.CopyFrom(ctx, pgx.Identifier{"exposures"},
		[]string{"env", "time", "unit", "flag", "variant", "flag_version", "reason", "experiment", "rollout"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if !next(exposures) {
				return nil, nil
			}
			batch := &batches[indexes[b]]
			x := &batch.Exposures[e-1]
			// COPY encodes each row before asking for the next, so one
			// slice serves every row.
			row = append(row[:0], batch.Env, x.Time, x.Unit, x.Flag, x.Variant, x.FlagVersion,
				nullable(x.Reason), nullable(x.Experiment), nullable(x.Rollout))
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("append events: exposures: %w", translate(err))
	}
	b, e = 0, 0
	tracks := func(b *store.EventBatch) int { return len(b.Tracks) }
	_, err = t.CopyFrom(ctx, pgx.Identifier{"tracks"},
		[]string{"env", "time", "unit", "name", "value", "properties"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if !next(tracks) {
				return nil, nil
			}
			batch := &batches[indexes[b]]
			x := &batch.Tracks[e-1]
			var value, props any
			if x.HasValue {
				value = x.Value
			}
			if x.Properties != nil {
				props = string(x.Properties)
			}
			row = append(row[:0], batch.Env, x.Time, x.Unit, x.Name, value, props)
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("append events: track events: %w", translate(err))
	}
	return nil
}

// nullable stores an absent string as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// unknownEnvironments names the environments of envs that do not exist.
func unknownEnvironments(ctx context.Context, t pgx.Tx, envs []string) string {
	rows, err := t.Query(ctx, `SELECT e FROM unnest($1::text[]) AS e
		WHERE NOT EXISTS (SELECT 1 FROM current WHERE kind = 'environment' AND key = e AND env = '' AND NOT deleted)`, envs)
	if err != nil {
		return "an environment does not exist"
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(missing) == 0 {
		return "an environment does not exist"
	}
	return fmt.Sprintf("environments %q do not exist", missing)
}

// minuteOf is the minute (a timestamptz) of the time t, as the event
// tables' minute columns hold it.
func minuteOf(t string) string {
	return `date_bin('1 minute', ` + t + `::timestamptz, timestamptz '1970-01-01 00:00:00+00')`
}

// Each event table has one index, (env, flag or name, minute); see the
// migration. Statistics and retention read every flag or name of an
// environment: everyFlag and everyName list them (as the tables flags and
// names) by stepping through the index from one value to the next, a seek
// each, and the queries then read each one's range.
var (
	everyFlag = `WITH RECURSIVE flags (flag) AS (
		SELECT min(flag) FROM exposures WHERE env = $1
		UNION ALL
		SELECT (SELECT min(flag) FROM exposures WHERE env = $1 AND flag > flags.flag) FROM flags WHERE flag IS NOT NULL)`
	everyName = `WITH RECURSIVE names (name) AS (
		SELECT min(name) FROM tracks WHERE env = $1
		UNION ALL
		SELECT (SELECT min(name) FROM tracks WHERE env = $1 AND name > names.name) FROM names WHERE name IS NOT NULL)`
	// inWindow selects the events e with times in [$2, $3).
	inWindow = `e.minute BETWEEN ` + minuteOf("$2") + ` AND ` + minuteOf("$3") + ` AND e.time >= $2 AND e.time < $3`
)

// EventStats implements store.EventStore. The three queries run in one
// read-only, repeatable-read transaction, so they see one snapshot.
func (s *Store) EventStats(ctx context.Context, env string, from, to time.Time) (store.EventStats, error) {
	var st store.EventStats
	lo, hi := backend.Timestamp(from), backend.Timestamp(to)
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(t pgx.Tx) error {
		st = store.EventStats{}
		var last time.Time
		rows, err := t.Query(ctx, everyFlag+`
			SELECT e.flag, e.variant, coalesce(e.experiment, ''), coalesce(e.rollout, ''), count(*), max(e.time)
			FROM flags JOIN exposures e ON e.env = $1 AND e.flag = flags.flag
			WHERE `+inWindow+`
			GROUP BY e.flag, e.variant, e.experiment, e.rollout`, env, lo, hi)
		if err != nil {
			return fmt.Errorf("exposures: %w", translate(err))
		}
		var c store.FlagVariantCount
		var newest time.Time
		_, err = pgx.ForEachRow(rows, []any{&c.Flag, &c.Variant, &c.Experiment, &c.Rollout, &c.Exposures, &newest}, func() error {
			st.Flags = append(st.Flags, c)
			if newest.After(last) {
				last = newest
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("exposures: %w", translate(err))
		}
		rows, err = t.Query(ctx, everyName+`
			SELECT e.name, count(*), count(e.value), coalesce(sum(e.value), 0), max(e.time)
			FROM names JOIN tracks e ON e.env = $1 AND e.name = names.name
			WHERE `+inWindow+`
			GROUP BY e.name`, env, lo, hi)
		if err != nil {
			return fmt.Errorf("track events: %w", translate(err))
		}
		var m store.MetricCount
		_, err = pgx.ForEachRow(rows, []any{&m.Name, &m.Events, &m.WithValue, &m.Sum, &newest}, func() error {
			st.Metrics = append(st.Metrics, m)
			if newest.After(last) {
				last = newest
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("track events: %w", translate(err))
		}
		if err := t.QueryRow(ctx, `SELECT count(*), coalesce(sum(dropped), 0)::bigint
			FROM event_batches WHERE env = $1 AND received_at >= $2 AND received_at < $3`, env, lo, hi).Scan(&st.Batches, &st.Dropped); err != nil {
			return fmt.Errorf("batches: %w", translate(err))
		}
		if !last.IsZero() {
			st.LastEvent = last.UTC()
		}
		return nil
	})
	if err != nil {
		return store.EventStats{}, fmt.Errorf("event stats: %w", err)
	}
	backend.FinishEventStats(&st)
	return st, nil
}

// DeleteEventsBefore implements store.EventStore: in one transaction it
// deletes up to limit rows, exposures first, then track events, then batch
// records.
func (s *Store) DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error) {
	if err := backend.CheckDeleteLimit(limit); err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	cutoff := backend.Timestamp(before)
	var deleted int64
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		deleted = 0
		// PostgreSQL has no DELETE … LIMIT: the subquery finds the oldest
		// rows, flag by flag (name by name), through the index, and the
		// delete finds them by their physical address (a TID scan).
		// Event rows are never updated, so the addresses cannot move in
		// between.
		for _, q := range []struct{ what, query string }{
			{"exposures", `DELETE FROM exposures WHERE ctid = ANY (ARRAY (` + everyFlag + `
				SELECT e.ctid FROM flags JOIN exposures e ON e.env = $1 AND e.flag = flags.flag
				WHERE e.minute <= ` + minuteOf("$2") + ` AND e.time < $2
				LIMIT $3))`},
			{"track events", `DELETE FROM tracks WHERE ctid = ANY (ARRAY (` + everyName + `
				SELECT e.ctid FROM names JOIN tracks e ON e.env = $1 AND e.name = names.name
				WHERE e.minute <= ` + minuteOf("$2") + ` AND e.time < $2
				LIMIT $3))`},
			{"batch records", `DELETE FROM event_batches WHERE env = $1 AND id = ANY (ARRAY (
				SELECT id FROM event_batches WHERE env = $1 AND received_at < $2 LIMIT $3))`},
		} {
			left := int64(limit) - deleted
			if left == 0 {
				break
			}
			tag, err := t.Exec(ctx, q.query, env, cutoff, left)
			if err != nil {
				return fmt.Errorf("delete %s: %w", q.what, translate(err))
			}
			deleted += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete events in %q: %w", env, err)
	}
	return deleted, nil
}

// UnitTokenKey implements store.EventStore. Replicas creating the key at
// once all insert with ON CONFLICT DO NOTHING: one insert wins, the others
// wait for it and skip, and every replica then reads the winner's key.
func (s *Store) UnitTokenKey(ctx context.Context, env string) ([]byte, error) {
	key, err := s.unitTokenKey(ctx, env)
	if err != nil || key != nil {
		return key, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO unit_token_keys (env, key, created_at)
		SELECT $1, $2, $3 WHERE `+environmentKnown+` ON CONFLICT (env) DO NOTHING`,
		env, backend.NewUnitTokenKey(), backend.Timestamp(s.now())); err != nil {
		return nil, fmt.Errorf("unit token key of %q: %w", env, translate(err))
	}
	if key, err = s.unitTokenKey(ctx, env); err == nil && key == nil {
		// The environment was deleted and re-created between the two
		// statements; rare enough to report rather than retry.
		err = fmt.Errorf("unit token key of %q: %w: the environment changed, retry", env, store.ErrConflict)
	}
	return key, err
}

// unitTokenKey returns the key of env, nil if it has none yet, or
// store.ErrNotFound if env does not exist.
func (s *Store) unitTokenKey(ctx context.Context, env string) ([]byte, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT u.key FROM current c LEFT JOIN unit_token_keys u ON u.env = c.key
		WHERE c.kind = 'environment' AND c.key = $1 AND c.env = '' AND NOT c.deleted`, env).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("unit token key of %q: %w", env, translate(err))
	}
	return key, nil
}
