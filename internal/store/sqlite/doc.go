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
// Telemetry lives in its own tables (0002_events.sql): event_batches, the
// idempotency record of each stored batch; exposures and tracks, one row
// per event, with times as integer Unix microseconds and unit tokens as
// blobs; unit_token_keys. Ingest must be fast, and in this pure-Go SQLite an
// index entry costs an insert about as much as the row, so the event tables
// have no index: rows are numbered in order of arrival, each append stores
// its events grouped by environment, flag (or metric name) and minute, and
// exposure_runs and track_runs record where each group landed, one row per
// few dozen events. Reads go from the runs of a window to ranges of rows;
// the migration shows the query shape. An append is one transaction whose
// rows are written by multi-row INSERT statements prepared once, on the
// write connection, when the store opens.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A
// commit is written to the write-ahead log before Commit or AppendEvents
// returns, so it survives the process crashing or being killed (SIGKILL);
// the log is synced to disk only at checkpoints (every 1,000 pages, 4 MB,
// of log), so a power loss or an operating system crash may lose the
// commits since the last one (the database stays consistent: it rolls back
// to an earlier commit, never to half of one).
//
// Times (commit times, key creation and revocation) come from the clock
// given by WithClock, time.Now by default, truncated to microseconds; see
// package backend for the rules shared with PostgreSQL.
package sqlite
