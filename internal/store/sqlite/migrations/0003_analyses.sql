-- Stored experiment analyses: each analysis of an experiment is kept with
-- its time, so the history of its results can be shown. Append-only.
CREATE TABLE experiment_analyses (
    env         TEXT    NOT NULL,
    experiment  TEXT    NOT NULL,
    phase       INTEGER NOT NULL,
    analyzed_at INTEGER NOT NULL,
    result      TEXT    NOT NULL
) STRICT;
CREATE INDEX experiment_analyses_by_time ON experiment_analyses (env, experiment, analyzed_at);
CREATE TRIGGER experiment_analyses_append_only BEFORE UPDATE ON experiment_analyses
BEGIN SELECT RAISE(ABORT, 'experiment_analyses is append-only'); END;
