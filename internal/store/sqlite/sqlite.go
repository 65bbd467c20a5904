package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/backend"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	write *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB
	now   func() time.Time

	events *eventStatements // prepared on the write connection

	// The background fold of exposures (fold.go): closing stopFold stops
	// it, and foldDone is closed when it has.
	stopFold, foldDone chan struct{}

	forgetMu    sync.Mutex
	forgottenTo map[string]int64 // see forgotten in events.go
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that dates commits, keys and audit entries
// (time.Now by default).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite store: %w: the path must name a file and contain no '?' or '#'", store.ErrInvalid)
	}
	s := &Store{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	pragmas := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}}
	var err error
	if s.write, err = sql.Open("sqlite", path+"?"+pragmas.Encode()+"&_txlock=immediate"); err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", translate(err))
	}
	// One writer connection: commits queue here rather than race for the
	// file lock.
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	if s.events, err = prepareEventStatements(ctx, s.write); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	readPragmas := url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(1)", "query_only(1)"}}
	if s.read, err = sql.Open("sqlite", path+"?"+readPragmas.Encode()); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite store: %w", translate(err))
	}
	s.read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store: %w", translate(err))
	}
	s.stopFold, s.foldDone = make(chan struct{}), make(chan struct{})
	go s.foldLoop(s.stopFold, s.foldDone)
	return s, nil
}

// migrate applies the pending embedded migrations in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	all, err := backend.Migrations(mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return s.inWriteTx(ctx, func(t *tx) error {
		if _, err := t.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", translate(err))
		}
		var newest int64
		if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return fmt.Errorf("migrate: %w", translate(err))
		}
		if known := all[len(all)-1].Version; newest > known {
			return fmt.Errorf("migrate: the database schema is at version %d, newer than this program knows (%d)", newest, known)
		}
		for _, m := range all {
			if m.Version <= newest {
				continue
			}
			if _, err := t.tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, translate(err))
			}
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, formatTime(s.now())); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, translate(err))
			}
		}
		return nil
	})
}

// inWriteTx runs fn in a write transaction and commits it, or rolls it back
// when fn fails.
func (s *Store) inWriteTx(ctx context.Context, fn func(t *tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	if err := fn(&tx{tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// Commit implements store.Store.
func (s *Store) Commit(ctx context.Context, cs *store.Changeset) (store.Committed, error) {
	var out store.Committed
	err := s.inWriteTx(ctx, func(t *tx) error {
		var err error
		out, err = backend.Commit(ctx, t, cs, s.now)
		return err
	})
	if err != nil {
		return store.Committed{}, err
	}
	return out, nil
}

// Load implements store.Store.
func (s *Store) Load(ctx context.Context) (*store.Config, error) {
	// One read transaction: the audit sequence and the rows are one
	// snapshot.
	rtx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("load: %w", translate(err))
	}
	defer rtx.Rollback()
	var seq int64
	if err := rtx.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&seq); err != nil {
		return nil, fmt.Errorf("load: %w", translate(err))
	}
	rows, err := rtx.QueryContext(ctx, `SELECT c.kind, c.key, c.env, c.version, v.content
		FROM current c JOIN versions v
		  ON v.kind = c.kind AND v.key = c.key AND v.env = c.env AND v.version = c.version
		WHERE c.deleted = 0`)
	if err != nil {
		return nil, fmt.Errorf("load: %w", translate(err))
	}
	defer rows.Close()
	var all []backend.Row
	for rows.Next() {
		var r backend.Row
		var content string
		if err := rows.Scan(&r.Kind, &r.Key, &r.Env, &r.Version, &content); err != nil {
			return nil, fmt.Errorf("load: %w", translate(err))
		}
		r.Content = []byte(content)
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", translate(err))
	}
	return backend.BuildConfig(all, seq)
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, kind store.Kind, key, env string) ([]store.Version, error) {
	target := backend.Target(kind, key, env)
	rows, err := s.read.QueryContext(ctx, `SELECT version, deleted, content, actor, reason, action, created_at
		FROM versions WHERE kind = ? AND key = ? AND env = ? ORDER BY version`, string(kind), key, env)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", target, translate(err))
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		v := store.Version{Kind: kind, Key: key, Env: env}
		var content, at string
		if err := rows.Scan(&v.Version, &v.Deleted, &content, &v.Actor, &v.Reason, &v.Action, &at); err != nil {
			return nil, fmt.Errorf("history of %s: %w", target, translate(err))
		}
		v.Content = []byte(content)
		if v.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("history of %s: %w", target, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
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
	rows, err := s.read.QueryContext(ctx, `SELECT seq, time, actor, action, target, diff, reason, prev_hash, hash
		FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", translate(err))
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at, diff string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &diff, &e.Reason, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit: %w", translate(err))
		}
		e.Diff = []byte(diff)
		if e.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", translate(err))
	}
	return out, nil
}

// CreateKey implements store.Store: it stores the key and appends a
// "key.create" audit entry. A duplicate id or hash is store.ErrConflict.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	return s.inWriteTx(ctx, func(t *tx) error { return backend.CreateKey(ctx, t, k, s.now) })
}

// RevokeKey implements store.Store: it sets the key's revocation time and
// appends a "key.revoke" audit entry. Revoking a revoked key changes
// nothing; an unknown id is store.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id, actor string) error {
	return s.inWriteTx(ctx, func(t *tx) error { return backend.RevokeKey(ctx, t, id, actor, s.now) })
}

const keyColumns = `id, name, scope, env, hash, prefix, created_by, created_at, revoked_at`

// Keys implements store.Store: every key, revoked ones included, oldest
// first.
func (s *Store) Keys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", translate(err))
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: %w", translate(err))
	}
	return out, nil
}

// KeyByHash implements store.Store. A revoked key is returned with its
// RevokedAt set: callers decide, so they can tell "revoked" from "unknown".
// A hash no key has is store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.Key, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE hash = ?`, hash))
	if err != nil {
		return store.Key{}, fmt.Errorf("key by hash: %w", err)
	}
	return k, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", translate(err))
	}
	return nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	if s.stopFold != nil {
		close(s.stopFold)
		<-s.foldDone
		s.stopFold = nil
	}
	s.events.close()
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}
