package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"time"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

// tx adapts a write transaction to backend.Tx. Statements are prepared once
// per transaction: a changeset of a thousand flags runs each of them
// thousands of times.
type tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

var _ backend.Tx = (*tx)(nil)

func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, translate(err)
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) error {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return translate(err)
}

func (t *tx) LockAuditHead(ctx context.Context) (backend.Head, error) {
	// The transaction began IMMEDIATE: it already holds the write lock.
	var h backend.Head
	var at string
	err := t.tx.QueryRowContext(ctx, `SELECT seq, hash, time FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash, &at)
	if err != nil {
		return h, fmt.Errorf("audit head: %w", translate(err))
	}
	if at != "" {
		if h.Time, err = parseTime(at); err != nil {
			return h, fmt.Errorf("audit head: %w", err)
		}
	}
	return h, nil
}

func (t *tx) Current(ctx context.Context, refs []backend.Ref) (map[backend.Ref]backend.Current, error) {
	// SQLite runs in process: one prepared lookup per object costs no
	// round trip.
	st, err := t.stmt(ctx, `SELECT c.version, c.deleted, v.content
		FROM current c JOIN versions v
		  ON v.kind = c.kind AND v.key = c.key AND v.env = c.env AND v.version = c.version
		WHERE c.kind = ? AND c.key = ? AND c.env = ?`)
	if err != nil {
		return nil, err
	}
	out := make(map[backend.Ref]backend.Current, len(refs))
	for _, r := range refs {
		if _, done := out[r]; done {
			continue
		}
		var c backend.Current
		var content string
		err := st.QueryRowContext(ctx, string(r.Kind), r.Key, r.Env).Scan(&c.Version, &c.Deleted, &content)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("current version of %s: %w", backend.Target(r.Kind, r.Key, r.Env), translate(err))
		}
		c.Content = []byte(content)
		out[r] = c
	}
	return out, nil
}

func (t *tx) LiveStates(ctx context.Context, flag, env string) ([]backend.Ref, error) {
	query, arg := `SELECT key, env FROM current WHERE kind = 'flag-state' AND deleted = 0 AND key = ?`, flag
	if flag == "" {
		query, arg = `SELECT key, env FROM current WHERE kind = 'flag-state' AND deleted = 0 AND env = ?`, env
	}
	rows, err := t.tx.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []backend.Ref
	for rows.Next() {
		r := backend.Ref{Kind: store.KindFlagState}
		if err := rows.Scan(&r.Key, &r.Env); err != nil {
			return nil, translate(err)
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}

func (t *tx) PutVersions(ctx context.Context, vs []store.Version) error {
	for _, v := range vs {
		err := t.exec(ctx, `INSERT INTO versions (kind, key, env, version, deleted, content, actor, reason, action, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(v.Kind), v.Key, v.Env, v.Version, v.Deleted, string(v.Content), v.Actor, v.Reason, v.Action, formatTime(v.Time))
		if err == nil {
			err = t.exec(ctx, `INSERT INTO current (kind, key, env, version, deleted) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (kind, key, env) DO UPDATE SET version = excluded.version, deleted = excluded.deleted`,
				string(v.Kind), v.Key, v.Env, v.Version, v.Deleted)
		}
		if err != nil {
			return fmt.Errorf("write %s version %d: %w", backend.Target(v.Kind, v.Key, v.Env), v.Version, err)
		}
	}
	return nil
}

func (t *tx) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	for _, e := range entries {
		if err := t.exec(ctx, `INSERT INTO audit_log (seq, time, actor, action, target, diff, reason, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, formatTime(e.Time), e.Actor, e.Action, e.Target, string(e.Diff), e.Reason, nonNil(e.PrevHash), e.Hash); err != nil {
			return fmt.Errorf("append audit entry %d: %w", e.Seq, err)
		}
	}
	last := entries[len(entries)-1]
	if err := t.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ?, time = ? WHERE id = 1`,
		last.Seq, last.Hash, formatTime(last.Time)); err != nil {
		return fmt.Errorf("move audit head: %w", err)
	}
	return nil
}

func (t *tx) InsertKey(ctx context.Context, k store.Key) error {
	return t.exec(ctx, `INSERT INTO keys (id, name, scope, env, hash, prefix, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, string(k.Scope), k.Env, k.Hash, k.Prefix, k.CreatedBy, formatTime(k.CreatedAt))
}

func (t *tx) Key(ctx context.Context, id string) (store.Key, error) {
	return scanKey(t.tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
}

func (t *tx) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return t.exec(ctx, `UPDATE keys SET revoked_at = ? WHERE id = ?`, formatTime(at), id)
}

type scanner interface{ Scan(dest ...any) error }

func scanKey(row scanner) (store.Key, error) {
	var k store.Key
	var created string
	var revoked sql.NullString
	if err := row.Scan(&k.ID, &k.Name, &k.Scope, &k.Env, &k.Hash, &k.Prefix, &k.CreatedBy, &created, &revoked); err != nil {
		return store.Key{}, translate(err)
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return store.Key{}, err
	}
	if revoked.Valid {
		at, err := parseTime(revoked.String)
		if err != nil {
			return store.Key{}, err
		}
		k.RevokedAt = &at
	}
	return k, nil
}

// timeLayout stores times as UTC text with a fixed number of digits, so
// they sort as text and read well in the sqlite3 shell.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return backend.Timestamp(t).Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nonNil stores an absent hash as an empty blob, since the column is NOT
// NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant naming an embedded directory
	}
	return sub
}
