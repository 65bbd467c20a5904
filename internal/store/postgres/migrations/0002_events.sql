-- Telemetry: event batches, exposures, track events and the keys that
-- tokenize units. Events are data, not configuration: they are not
-- versioned, not in the audit log, and retention deletes them.
--
-- Units are tokens (16 bytes), never raw identifiers. Absent reasons,
-- experiments, rollouts, values and properties are NULL.

-- One row per stored batch: the idempotency record. A batch whose (env, id)
-- is here is not stored again.
CREATE TABLE event_batches (
    env         text        NOT NULL,
    id          text        NOT NULL,
    received_at timestamptz NOT NULL,
    events      bigint      NOT NULL,
    dropped     bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (env, id)
);
-- Statistics and retention select batches by time received.
CREATE INDEX event_batches_by_received ON event_batches (env, received_at);

CREATE TABLE exposures (
    env          text        NOT NULL,
    time         timestamptz NOT NULL,
    unit         bytea       NOT NULL,
    flag         text        NOT NULL,
    variant      text        NOT NULL,
    flag_version bigint      NOT NULL,
    reason       text,
    experiment   text,
    rollout      text,
    minute       timestamptz NOT NULL
        GENERATED ALWAYS AS (date_bin('1 minute', time, timestamptz '1970-01-01 00:00:00+00')) STORED
);

-- Properties are jsonb: an unordered set of allow-listed names that
-- analysis filters and groups by.
CREATE TABLE tracks (
    env        text             NOT NULL,
    time       timestamptz      NOT NULL,
    unit       bytea            NOT NULL,
    name       text             NOT NULL,
    value      double precision,
    properties jsonb,
    minute     timestamptz      NOT NULL
        GENERATED ALWAYS AS (date_bin('1 minute', time, timestamptz '1970-01-01 00:00:00+00')) STORED
);

-- One index per table, the cheapest layout that serves analysis: the index
-- entry each event writes costs about a fifth of ingest speed (measured;
-- see BENCHMARKS.md), and ingest must stay fast. An experiment
-- or a guarded rollout serves one flag, so its exposures are the flag's,
-- filtered; a metric is a track event name. Statistics and retention,
-- which read every flag or name, step from one to the next through the
-- same index.
--
-- Indexes end with the minute of the event time, not the time itself.
-- Events do not arrive in time order: each sender's batch spans the
-- seconds since its last one, so exact times from many senders would send
-- every insert to a random place in the last seconds of each index (up to
-- half as fast, measured). Entries with equal keys are ordered by
-- their row's address, which COPY appends, so within a minute inserts
-- append at the end of their range. A query over a window constrains
-- minute, for the index, and time, for exactness:
--
--   WHERE env = $1 AND flag = $2 AND experiment = $3
--     AND minute BETWEEN date_bin('1 minute', $4, timestamptz '1970-01-01 00:00:00+00')
--                    AND date_bin('1 minute', $5, timestamptz '1970-01-01 00:00:00+00')
--     AND time >= $4 AND time < $5
--
-- No index holds the unit: random tokens would scatter inserts over the
-- whole index. Analysis aggregates each side per unit (reading one range)
-- before joining them.
CREATE INDEX exposures_by_flag ON exposures (env, flag, minute);
CREATE INDEX tracks_by_name ON tracks (env, name, minute);

-- The secret under which an environment's units are tokenized, created on
-- first use. It outlives a deleted environment, so one re-created under the
-- same key tokenizes units as before.
CREATE TABLE unit_token_keys (
    env        text        PRIMARY KEY,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL
);
