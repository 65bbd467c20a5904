-- Telemetry: event batches, exposures, track events and the keys that
-- tokenize units. Events are data, not configuration: they are not
-- versioned, not in the audit log, and retention deletes them.
--
-- Times are integer Unix microseconds (UTC): at most eight bytes that
-- compare as integers. Units are tokens (16 bytes), never raw identifiers.
-- Absent reasons, experiments, rollouts, values and properties are NULL.
-- The tables are STRICT, so a value of the wrong type is an error instead
-- of a silently converted, unsortable one.

-- One row per stored batch: the idempotency record. A batch whose (env, id)
-- is here is not stored again.
CREATE TABLE event_batches (
    env         TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    dropped     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (env, id)
) STRICT, WITHOUT ROWID;
-- Statistics and retention select batches by time received.
CREATE INDEX event_batches_by_received ON event_batches (env, received_at);

-- Event rows are numbered in order of arrival (seq). AUTOINCREMENT: a
-- number is never used twice, even after the newest rows are deleted, so a
-- run (below) can never cover rows stored after it.
CREATE TABLE exposures (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    env          TEXT    NOT NULL,
    time         INTEGER NOT NULL,
    unit         BLOB    NOT NULL,
    flag         TEXT    NOT NULL,
    variant      TEXT    NOT NULL,
    flag_version INTEGER NOT NULL,
    reason       TEXT,
    experiment   TEXT,
    rollout      TEXT
) STRICT;

CREATE TABLE tracks (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    env        TEXT    NOT NULL,
    time       INTEGER NOT NULL,
    unit       BLOB    NOT NULL,
    name       TEXT    NOT NULL,
    value      REAL,
    properties TEXT
) STRICT;

-- The event tables have no index but their seq: an index entry costs an
-- insert as much as the row itself (measured, see BENCHMARKS.md), which
-- would halve ingest. Instead, each append stores its events grouped by
-- environment, flag (or metric name) and minute of event time, so each
-- group is a run of consecutive seq numbers, and records the run here: one
-- row per few dozen events. Reading a flag's (or metric's) events over a
-- window is a search of its runs by minute, then a range of seq numbers
-- per run, with the exact times checked on the rows:
--
--   SELECT e.unit, e.variant, min(e.time)
--   FROM exposure_runs r CROSS JOIN exposures e ON e.seq BETWEEN r.first_seq AND r.last_seq
--   WHERE r.env = :env AND r.flag = :flag AND r.minute BETWEEN :from_minute AND :to_minute
--     AND e.experiment = :experiment AND e.time >= :from AND e.time < :to
--   GROUP BY e.unit
--
-- An experiment or a guarded rollout serves one flag, so its exposures are
-- found through its flag's runs. A minute is a Unix minute: the event
-- time in microseconds divided by 60,000,000, rounded down. Every row of a
-- run exists, except rows retention deleted from the run of the minute it
-- stopped in; rows are deleted only by retention, runs with their rows.
--
-- Why minutes: events do not arrive in time order (each sender's batch
-- spans the seconds since its last one); grouping by minute keeps a run's
-- rows together whatever their order, and an index on exact times would
-- send every insert to a random place in its last seconds.
CREATE TABLE exposure_runs (
    env       TEXT    NOT NULL,
    flag      TEXT    NOT NULL,
    minute    INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (env, flag, minute, first_seq)
) STRICT, WITHOUT ROWID;
-- Statistics and retention read all of an environment's runs by minute.
CREATE INDEX exposure_runs_by_minute ON exposure_runs (env, minute);

CREATE TABLE track_runs (
    env       TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    minute    INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (env, name, minute, first_seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX track_runs_by_minute ON track_runs (env, minute);

-- The secret under which an environment's units are tokenized, created on
-- first use. It outlives a deleted environment, so one re-created under the
-- same key tokenizes units as before.
CREATE TABLE unit_token_keys (
    env        TEXT    PRIMARY KEY,
    key        BLOB    NOT NULL CHECK (length(key) = 32),
    created_at INTEGER NOT NULL
) STRICT;
