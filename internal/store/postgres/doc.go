// Package postgres is Weir's store for teams that outgrow one machine: the
// store.Store contract on PostgreSQL through pgx (pgxpool), shared safely by
// several "weir serve" replicas.
//
// Every write transaction (Commit, CreateKey, RevokeKey) first locks the
// single row of audit_head with SELECT … FOR UPDATE. Writers from all
// replicas therefore run one after another: under READ COMMITTED each
// statement after the lock sees every earlier commit, so version checks are
// exact, conflicts are reported as *store.ConflictError rather than as
// unique violations, and the audit hash chain stays linear. Load reads in a
// REPEATABLE READ, read-only transaction, so the configuration and its audit
// sequence are one snapshot, and never waits for writers.
//
// The schema is created by embedded, forward-only migrations
// (migrations/NNNN_name.sql), applied in one transaction at Open under a
// transaction-scoped advisory lock, so replicas starting together migrate
// once, and recorded in schema_migrations. Tables go to the first schema of
// the connection's search_path, which the URL can set
// (postgres://…/db?search_path=weir). Content and diffs are stored as json,
// not jsonb, because order matters in them (see the migration).
//
// Times come from the clock given by WithClock, time.Now by default,
// truncated to microseconds, read after the audit lock is taken; see package
// backend.
//
// Errors never contain the connection URL, which may hold a password.
package postgres
