package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Folding: the exposures of experiments are folded into experiment_units
// (migration 0004) after they are stored, in batches sorted by unit, so
// that appending events stays an append. A background loop folds every
// foldInterval; an analysis folds what is left before it reads the units,
// so it sees every exposure stored before it began.

const (
	// foldBatch is the most exposures one fold transaction reads. A batch
	// holds the write lock while it sorts and merges (about 0.5 s for
	// 50,000 exposures of new units into a table of a million, on 2
	// cores); the larger it is, the more units share each page it
	// rewrites.
	foldBatch = 50_000
	// foldInterval is how often the background loop folds.
	foldInterval = 5 * time.Second
)

// foldAll folds every exposure stored after the watermark, one batch per
// transaction, until none is left or ctx ends.
func (s *Store) foldAll(ctx context.Context) error {
	// Most of the time there is nothing to fold: a read says so without
	// taking the write lock.
	var pending bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM exposures
		WHERE seq > (SELECT folded_seq FROM experiment_folds WHERE id = 1))`).Scan(&pending); err != nil {
		return fmt.Errorf("fold exposures: %w", translate(err))
	}
	if !pending {
		return nil
	}
	for {
		n, err := s.foldOnce(ctx, foldBatch)
		if err != nil {
			return err
		}
		if n < foldBatch {
			return nil
		}
	}
}

// foldOnce folds up to limit exposures after the watermark and moves it
// past them; it returns how many it read.
func (s *Store) foldOnce(ctx context.Context, limit int) (int64, error) {
	var n int64
	err := s.inWriteTx(ctx, func(t *tx) error {
		var from, to int64
		if err := t.tx.QueryRowContext(ctx, `SELECT folded_seq FROM experiment_folds WHERE id = 1`).Scan(&from); err != nil {
			return fmt.Errorf("fold exposures: %w", translate(err))
		}
		if err := t.tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(seq), ?1) FROM
			(SELECT seq FROM exposures WHERE seq > ?1 ORDER BY seq LIMIT ?2)`, from, limit).Scan(&n, &to); err != nil {
			return fmt.Errorf("fold exposures: %w", translate(err))
		}
		if n == 0 {
			return nil
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO experiment_keys (env, experiment)
			SELECT DISTINCT env, experiment FROM exposures WHERE seq > ?1 AND seq <= ?2 AND experiment IS NOT NULL
			ON CONFLICT (env, experiment) DO NOTHING`, from, to); err != nil {
			return fmt.Errorf("fold exposures: number experiments: %w", translate(err))
		}
		// Grouped and ordered by unit first, so the merge walks the table
		// in key order.
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO experiment_units (xid, unit, first, last, variant, vmax)
			SELECT k.id, e.unit, min(e.time), max(e.time), min(e.variant), max(e.variant)
			FROM exposures e JOIN experiment_keys k ON k.env = e.env AND k.experiment = e.experiment
			WHERE e.seq > ?1 AND e.seq <= ?2
			GROUP BY k.id, e.unit ORDER BY k.id, e.unit
			ON CONFLICT (xid, unit) DO UPDATE SET
				first = min(first, excluded.first), last = max(last, excluded.last),
				variant = min(variant, excluded.variant), vmax = max(vmax, excluded.vmax)`, from, to); err != nil {
			return fmt.Errorf("fold exposures: %w", translate(err))
		}
		if _, err := t.tx.ExecContext(ctx, `UPDATE experiment_folds SET folded_seq = ? WHERE id = 1`, to); err != nil {
			return fmt.Errorf("fold exposures: %w", translate(err))
		}
		return nil
	})
	return n, err
}

// foldLoop folds in the background until stop is closed. It keeps its
// share of the write lock to about a quarter: after a full batch it waits
// three times as long as the batch took before the next, so an intake
// faster than folding slows by a quarter at most while the fold falls
// behind (an analysis then folds the rest itself). A failed fold is tried
// again at the next tick; an analysis folds, and reports the error, itself.
func (s *Store) foldLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	tick := time.NewTicker(foldInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for ctx.Err() == nil {
			start := time.Now()
			n, err := s.foldOnce(ctx, foldBatch)
			if err != nil || n < foldBatch {
				break
			}
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Since(start)):
			}
		}
	}
}
