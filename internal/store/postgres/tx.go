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

func (t tx) Current(ctx context.Context, refs []backend.Ref) (map[backend.Ref]backend.Current, error) {
	kinds, keys, envs := make([]string, len(refs)), make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		kinds[i], keys[i], envs[i] = string(r.Kind), r.Key, r.Env
	}
	// One round trip for the whole changeset.
	rows, err := t.tx.Query(ctx, `SELECT c.kind, c.key, c.env, c.version, c.deleted, v.content::text
		FROM unnest($1::text[], $2::text[], $3::text[]) AS r (kind, key, env)
		JOIN current c ON c.kind = r.kind AND c.key = r.key AND c.env = r.env
		JOIN versions v ON v.kind = c.kind AND v.key = c.key AND v.env = c.env AND v.version = c.version`,
		kinds, keys, envs)
	if err != nil {
		return nil, fmt.Errorf("current versions: %w", translate(err))
	}
	out := make(map[backend.Ref]backend.Current, len(refs))
	var r backend.Ref
	var c backend.Current
	var content string
	_, err = pgx.ForEachRow(rows, []any{&r.Kind, &r.Key, &r.Env, &c.Version, &c.Deleted, &content}, func() error {
		c.Content = []byte(content)
		out[r] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("current versions: %w", translate(err))
	}
	return out, nil
}

func (t tx) LiveStates(ctx context.Context, flag, env string) ([]backend.Ref, error) {
	query, arg := `SELECT key, env FROM current WHERE kind = 'flag-state' AND NOT deleted AND key = $1`, flag
	if flag == "" {
		query, arg = `SELECT key, env FROM current WHERE kind = 'flag-state' AND NOT deleted AND env = $1`, env
	}
	rows, err := t.tx.Query(ctx, query, arg)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (backend.Ref, error) {
		r := backend.Ref{Kind: store.KindFlagState}
		return r, row.Scan(&r.Key, &r.Env)
	})
	return out, translate(err)
}

func (t tx) PutVersions(ctx context.Context, vs []store.Version) error {
	// COPY sends every version in one round trip; versions are immutable,
	// so there is never a conflict to resolve.
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"versions"},
		[]string{"kind", "key", "env", "version", "deleted", "content", "actor", "reason", "action", "created_at"},
		pgx.CopyFromSlice(len(vs), func(i int) ([]any, error) {
			v := vs[i]
			return []any{string(v.Kind), v.Key, v.Env, v.Version, v.Deleted, string(v.Content), v.Actor, v.Reason, v.Action, v.Time}, nil
		}))
	if err != nil {
		return fmt.Errorf("write versions: %w", translate(err))
	}
	// One upsert moves current; an object changed twice in the changeset
	// takes its last version (an upsert cannot touch a row twice).
	last := map[backend.Ref]int{}
	for i, v := range vs {
		last[backend.Ref{Kind: v.Kind, Key: v.Key, Env: v.Env}] = i
	}
	var kinds, keys, envs []string
	var numbers []int64
	var deleted []bool
	for i, v := range vs {
		if last[backend.Ref{Kind: v.Kind, Key: v.Key, Env: v.Env}] != i {
			continue
		}
		kinds, keys, envs = append(kinds, string(v.Kind)), append(keys, v.Key), append(envs, v.Env)
		numbers, deleted = append(numbers, v.Version), append(deleted, v.Deleted)
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO current (kind, key, env, version, deleted)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[])
		ON CONFLICT (kind, key, env) DO UPDATE SET version = excluded.version, deleted = excluded.deleted`,
		kinds, keys, envs, numbers, deleted); err != nil {
		return fmt.Errorf("move current versions: %w", translate(err))
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
