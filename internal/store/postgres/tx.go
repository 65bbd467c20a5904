package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

// tx adapts a write transaction to backend.Tx. pgx prepares and caches each
// statement per connection, so repeated statements are parsed once.
type tx struct{ tx pgx.Tx }

var _ backend.Tx = tx{}

func (t tx) LockAuditHead(ctx context.Context) (backend.Head, error) {
	var h backend.Head
	var at *time.Time
	err := t.tx.QueryRow(ctx, `SELECT seq, hash, time FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&h.Seq, &h.Hash, &at)
	if err != nil {
		return h, fmt.Errorf("lock audit head: %w", translate(err))
	}
	if at != nil {
		h.Time = at.UTC()
	}
	return h, nil
}

func (t tx) Current(ctx context.Context, kind store.Kind, key, env string) (backend.Current, error) {
	var c backend.Current
	err := t.tx.QueryRow(ctx, `SELECT c.version, c.deleted, v.content
		FROM current c JOIN versions v
		  ON v.kind = c.kind AND v.key = c.key AND v.env = c.env AND v.version = c.version
		WHERE c.kind = $1 AND c.key = $2 AND c.env = $3`, string(kind), key, env).Scan(&c.Version, &c.Deleted, &c.Content)
	if err == pgx.ErrNoRows {
		return backend.Current{Content: []byte("null")}, nil
	}
	if err != nil {
		return c, fmt.Errorf("current version of %s: %w", backend.Target(kind, key, env), translate(err))
	}
	return c, nil
}

func (t tx) LiveStates(ctx context.Context, flag, env string) ([]string, error) {
	query, arg := `SELECT key || '/' || env FROM current WHERE kind = 'flag-state' AND NOT deleted AND key = $1 ORDER BY env`, flag
	if flag == "" {
		query, arg = `SELECT key || '/' || env FROM current WHERE kind = 'flag-state' AND NOT deleted AND env = $1 ORDER BY key`, env
	}
	rows, err := t.tx.Query(ctx, query, arg)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err)
}

func (t tx) PutVersion(ctx context.Context, v store.Version) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO versions (kind, key, env, version, deleted, content, actor, reason, action, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		string(v.Kind), v.Key, v.Env, v.Version, v.Deleted, []byte(v.Content), v.Actor, v.Reason, v.Action, v.Time)
	if err == nil {
		_, err = t.tx.Exec(ctx, `INSERT INTO current (kind, key, env, version, deleted) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (kind, key, env) DO UPDATE SET version = excluded.version, deleted = excluded.deleted`,
			string(v.Kind), v.Key, v.Env, v.Version, v.Deleted)
	}
	if err != nil {
		return fmt.Errorf("write %s version %d: %w", backend.Target(v.Kind, v.Key, v.Env), v.Version, translate(err))
	}
	return nil
}

func (t tx) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	// COPY sends a large changeset's entries in one round trip.
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"seq", "time", "actor", "action", "target", "diff", "reason", "prev_hash", "hash"},
		pgx.CopyFromSlice(len(entries), func(i int) ([]any, error) {
			e := entries[i]
			prev := e.PrevHash
			if prev == nil {
				prev = []byte{}
			}
			return []any{e.Seq, e.Time, e.Actor, e.Action, e.Target, []byte(e.Diff), e.Reason, prev, e.Hash}, nil
		}))
	if err != nil {
		return fmt.Errorf("append audit entries: %w", translate(err))
	}
	last := entries[len(entries)-1]
	if _, err := t.tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2, time = $3 WHERE id = 1`,
		last.Seq, last.Hash, last.Time); err != nil {
		return fmt.Errorf("move audit head: %w", translate(err))
	}
	return nil
}

func (t tx) InsertKey(ctx context.Context, k store.Key) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO keys (id, name, scope, env, hash, prefix, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.Name, string(k.Scope), k.Env, k.Hash, k.Prefix, k.CreatedBy, k.CreatedAt)
	return translate(err)
}

func (t tx) Key(ctx context.Context, id string) (store.Key, error) {
	k, err := scanKey(t.tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = $1`, id))
	return k, translate(err)
}

func (t tx) RevokeKey(ctx context.Context, id string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE keys SET revoked_at = $1 WHERE id = $2`, at, id)
	return translate(err)
}

const keyColumns = `id, name, scope, env, hash, prefix, created_by, created_at, revoked_at`

func scanKey(row pgx.Row) (store.Key, error) {
	var k store.Key
	var scope string
	if err := row.Scan(&k.ID, &k.Name, &scope, &k.Env, &k.Hash, &k.Prefix, &k.CreatedBy, &k.CreatedAt, &k.RevokedAt); err != nil {
		return store.Key{}, err
	}
	k.Scope = store.Scope(scope)
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		at := k.RevokedAt.UTC()
		k.RevokedAt = &at
	}
	return k, nil
}
