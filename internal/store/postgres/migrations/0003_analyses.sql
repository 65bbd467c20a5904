-- Stored experiment analyses: each analysis of an experiment is kept with
-- its time, so the history of its results can be shown. Append-only.
CREATE TABLE experiment_analyses (
    env         text        NOT NULL,
    experiment  text        NOT NULL,
    phase       integer     NOT NULL,
    analyzed_at timestamptz NOT NULL,
    result      jsonb       NOT NULL
);
CREATE INDEX experiment_analyses_by_time ON experiment_analyses (env, experiment, analyzed_at);
