-- Every immutable version of every object. A deletion is a version with
-- deleted = 1 and content 'null'. env is '' for objects that are not per
-- environment. Times are UTC text with microseconds, so they sort.
CREATE TABLE versions (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    env        TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL CHECK (version > 0),
    deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    content    TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    PRIMARY KEY (kind, key, env, version)
);

CREATE TRIGGER versions_immutable_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE TRIGGER versions_immutable_delete BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;

-- The latest version of each object, deleted or not, updated in the same
-- transaction as versions. Deleted rows stay so a re-created object
-- continues its numbering; Load skips them.
CREATE TABLE current (
    kind    TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    env     TEXT    NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, key, env),
    FOREIGN KEY (kind, key, env, version) REFERENCES versions (kind, key, env, version)
);
-- Flag states by environment, for deleting an environment. Partial, so the
-- planner never prefers it to the primary key for point lookups.
CREATE INDEX current_states_by_env ON current (env) WHERE kind = 'flag-state';

-- The append-only, hash-chained audit log.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    diff      TEXT NOT NULL,
    reason    TEXT NOT NULL DEFAULT '',
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);

CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The tail of the audit log, one row. Writers read it first, which with
-- BEGIN IMMEDIATE already holds the database's write lock.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL,
    time TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash, time) VALUES (1, 0, x'', '');

-- Access keys; only the hash of a secret is stored.
CREATE TABLE keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scope      TEXT NOT NULL CHECK (scope IN ('admin', 'sdk')),
    env        TEXT NOT NULL DEFAULT '',
    hash       BLOB NOT NULL UNIQUE,
    prefix     TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
