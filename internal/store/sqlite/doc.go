// Package sqlite is Weir's embedded store: the store.Store contract on a
// single SQLite file, through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode with foreign keys on and a busy timeout.
// Writes go through a pool of exactly one connection whose transactions
// begin with BEGIN IMMEDIATE, so concurrent commits in one process queue in
// Go and commits from other processes wait on the busy timeout, instead of
// failing with SQLITE_BUSY halfway through. Reads (Load, History, Audit,
// Keys) use a separate pool and see a consistent snapshot while writers
// proceed.
//
// The schema is created by embedded, forward-only migrations
// (migrations/NNNN_name.sql) applied in a transaction when the store opens
// and recorded in schema_migrations. Versions and the audit log are
// protected by triggers that reject UPDATE and DELETE.
//
// Times (commit times, key creation and revocation) come from the clock
// given by WithClock, time.Now by default, truncated to microseconds; see
// package backend for the rules shared with PostgreSQL.
package sqlite
