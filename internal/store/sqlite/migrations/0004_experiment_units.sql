-- The units of each experiment, folded from its exposures, for analysis.
-- SQLite groups by sorting and joins by looking rows up one at a time: an
-- analysis that grouped a million units' exposures from the unindexed
-- exposures table spent seconds per metric sorting them. Here each unit is
-- one row, in key order, found with one lookup.
--
-- Rows are not written as exposures arrive: a unit's row sits at a random
-- place of the table, and writing each at once would rewrite a page per
-- exposure. Exposures are folded in later, in batches sorted by unit (see
-- experiment_folds), so a page takes the changes of many units at once.

-- A number for each (environment, experiment): the key of experiment_units
-- starts with it, and an integer compares faster than two strings at every
-- step of every lookup. Numbers are never reused.
CREATE TABLE experiment_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    env        TEXT    NOT NULL,
    experiment TEXT    NOT NULL,
    UNIQUE (env, experiment)
) STRICT;

-- One row per unit of an experiment: its first and last exposure time and
-- the least and greatest variant it was exposed to (equal unless it saw
-- several). An analysis whose window holds all of a unit's exposures
-- (first >= from and last < to) takes the unit from here; the units with
-- exposures on both sides of an edge of the window are grouped again from
-- their exposures. When retention deletes a unit's first exposure but not
-- its last, it sets first to 0, so the unit is on the edge of every window
-- and grouped from the exposures that are left; rows whose last exposure it
-- deleted go. (Retention reads the whole table to find them, once per run:
-- an index on first would have cost every fold 40% more.)
CREATE TABLE experiment_units (
    xid     INTEGER NOT NULL,
    unit    BLOB    NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    variant TEXT    NOT NULL,
    vmax    TEXT    NOT NULL,
    PRIMARY KEY (xid, unit)
) STRICT, WITHOUT ROWID;

-- How far exposures have been folded into experiment_units: every exposure
-- with a seq up to folded_seq is, none after it. One row.
CREATE TABLE experiment_folds (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    folded_seq INTEGER NOT NULL
) STRICT;

-- The exposures stored so far are folded now.
INSERT INTO experiment_keys (env, experiment)
SELECT DISTINCT env, experiment FROM exposures WHERE experiment IS NOT NULL ORDER BY env, experiment;

INSERT INTO experiment_units (xid, unit, first, last, variant, vmax)
SELECT k.id, e.unit, min(e.time), max(e.time), min(e.variant), max(e.variant)
FROM exposures e JOIN experiment_keys k ON k.env = e.env AND k.experiment = e.experiment
GROUP BY k.id, e.unit;

INSERT INTO experiment_folds (id, folded_seq) SELECT 1, coalesce(max(seq), 0) FROM exposures;
