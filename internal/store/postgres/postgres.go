package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating ("weir" and a
// 1 in its bytes). Advisory locks are per database, so stores in different
// schemas of one database migrate one at a time, which is harmless.
const migrationLock int64 = 0x7765697200000001

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that dates commits, keys and audit entries
// (time.Now by default).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open connects to the database at url (postgres://… or postgresql://…),
// and brings its schema up to date.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return nil, fmt.Errorf("open postgres store: %w: the connection URL does not parse", store.ErrInvalid)
	}
	s := &Store{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open postgres store: %w", translate(err))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", translate(err))
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return s, nil
}

// migrate applies the pending embedded migrations in one transaction, under
// an advisory lock so replicas starting together do not race.
func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	all, err := backend.Migrations(sub)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return s.inTx(ctx, pgx.TxOptions{}, func(t pgx.Tx) error {
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", translate(err))
		}
		if _, err := t.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    bigint      PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", translate(err))
		}
		var newest int64
		if err := t.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return fmt.Errorf("migrate: %w", translate(err))
		}
		if known := all[len(all)-1].Version; newest > known {
			return fmt.Errorf("migrate: the database schema is at version %d, newer than this program knows (%d)", newest, known)
		}
		for _, m := range all {
			if m.Version <= newest {
				continue
			}
			// Without arguments pgx uses the simple protocol, which runs a
			// script of several statements.
			if _, err := t.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, translate(err))
			}
			if _, err := t.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, backend.Timestamp(s.now())); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, translate(err))
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction and commits it, or rolls it back when fn
// fails.
func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(t pgx.Tx) error) error {
	t, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	if err := fn(t); err != nil {
		_ = t.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, cs *store.Changeset) (store.Committed, error) {
	var out store.Committed
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		var err error
		out, err = backend.Commit(ctx, tx{t}, cs, s.now)
		return err
	})
	if err != nil {
		return store.Committed{}, err
	}
	return out, nil
}

// Load implements store.Store.
func (s *Store) Load(ctx context.Context) (*store.Config, error) {
	var cfg *store.Config
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(t pgx.Tx) error {
		var seq int64
		if err := t.QueryRow(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil {
			return fmt.Errorf("load: %w", translate(err))
		}
		rows, err := t.Query(ctx, `SELECT c.kind, c.key, c.env, c.version, v.content
			FROM current c JOIN versions v
			  ON v.kind = c.kind AND v.key = c.key AND v.env = c.env AND v.version = c.version
			WHERE NOT c.deleted`)
		if err != nil {
			return fmt.Errorf("load: %w", translate(err))
		}
		var all []backend.Row
		var r backend.Row
		_, err = pgx.ForEachRow(rows, []any{&r.Kind, &r.Key, &r.Env, &r.Version, &r.Content}, func() error {
			all = append(all, r)
			r.Content = nil // the next row must not share the buffer
			return nil
		})
		if err != nil {
			return fmt.Errorf("load: %w", translate(err))
		}
		cfg, err = backend.BuildConfig(all, seq)
		return err
	})
	return cfg, err
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, kind store.Kind, key, env string) ([]store.Version, error) {
	target := backend.Target(kind, key, env)
	rows, err := s.pool.Query(ctx, `SELECT version, deleted, content, actor, reason, action, created_at
		FROM versions WHERE kind = $1 AND key = $2 AND env = $3 ORDER BY version`, string(kind), key, env)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", target, translate(err))
	}
	var out []store.Version
	v := store.Version{Kind: kind, Key: key, Env: env}
	_, err = pgx.ForEachRow(rows, []any{&v.Version, &v.Deleted, &v.Content, &v.Actor, &v.Reason, &v.Action, &v.Time}, func() error {
		v.Time = v.Time.UTC()
		out = append(out, v)
		v.Content = nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", target, translate(err))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("history of %s: %w", target, store.ErrNotFound)
	}
	return out, nil
}

// Audit implements store.Store. A limit of 0 or less means no limit.
func (s *Store) Audit(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	n := int64(limit)
	if limit <= 0 {
		n = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, time, actor, action, target, diff, reason, prev_hash, hash
		FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", translate(err))
	}
	var out []store.AuditEntry
	var e store.AuditEntry
	_, err = pgx.ForEachRow(rows, []any{&e.Seq, &e.Time, &e.Actor, &e.Action, &e.Target, &e.Diff, &e.Reason, &e.PrevHash, &e.Hash}, func() error {
		e.Time = e.Time.UTC()
		out = append(out, e)
		e.Diff, e.PrevHash, e.Hash = nil, nil, nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", translate(err))
	}
	return out, nil
}

// CreateKey implements store.Store: it stores the key and appends a
// "key.create" audit entry. A duplicate id or hash is store.ErrConflict.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	return s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		return backend.CreateKey(ctx, tx{t}, k, s.now)
	})
}

// RevokeKey implements store.Store: it sets the key's revocation time and
// appends a "key.revoke" audit entry. Revoking a revoked key changes
// nothing; an unknown id is store.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id, actor string) error {
	return s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t pgx.Tx) error {
		return backend.RevokeKey(ctx, tx{t}, id, actor, s.now)
	})
}

// Keys implements store.Store: every key, revoked ones included, oldest
// first.
func (s *Store) Keys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", translate(err))
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Key, error) { return scanKey(row) })
	if err != nil {
		return nil, fmt.Errorf("keys: %w", translate(err))
	}
	return keys, nil
}

// KeyByHash implements store.Store. A revoked key is returned with its
// RevokedAt set: callers decide, so they can tell "revoked" from "unknown".
// A hash no key has is store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM keys WHERE hash = $1`, hash))
	if err != nil {
		return store.Key{}, fmt.Errorf("key by hash: %w", translate(err))
	}
	return k, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", translate(err))
	}
	return nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
