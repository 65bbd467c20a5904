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
// Telemetry lives in its own tables (0002_events.sql): event_batches, the
// idempotency record of each stored batch; exposures and tracks, one row
// per event; unit_token_keys. Each event table has one index, on
// environment, flag (or metric name) and the minute of the event time,
// which serves reads by flag, experiment, rollout or metric over a window;
// the migration explains the choice. AppendEvents is one transaction in a
// fixed number of round trips: the batch records in one INSERT … ON
// CONFLICT DO NOTHING … RETURNING, which tells the new batches from those
// stored before (also by another replica at the same moment: the insert
// waits for the other transaction), then COPY for each event table. Event
// appends do not take the audit lock, so they run beside configuration
// writes and beside each other.
//
// Times come from the clock given by WithClock, time.Now by default,
// truncated to microseconds, read after the audit lock is taken; see package
// backend.
//
// Errors never contain the connection URL, which may hold a password.
package postgres
