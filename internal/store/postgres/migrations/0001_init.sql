-- Content and diffs are json, not jsonb: jsonb reorders object members, and
-- Weir's content is order-sensitive (variants, split weights, targets are
-- ordered objects) and audit hashes cover the exact diff text.

-- Every immutable version of every object. A deletion is a version with
-- deleted = true and content null. env is '' for objects that are not per
-- environment.
CREATE TABLE versions (
    kind       text        NOT NULL,
    key        text        NOT NULL,
    env        text        NOT NULL DEFAULT '',
    version    bigint      NOT NULL CHECK (version > 0),
    deleted    boolean     NOT NULL DEFAULT false,
    content    json        NOT NULL,
    actor      text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    action     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key, env, version)
);

-- The latest version of each object, deleted or not, updated in the same
-- transaction as versions. Deleted rows stay so a re-created object
-- continues its numbering; Load skips them.
CREATE TABLE current (
    kind    text    NOT NULL,
    key     text    NOT NULL,
    env     text    NOT NULL DEFAULT '',
    version bigint  NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (kind, key, env),
    FOREIGN KEY (kind, key, env, version) REFERENCES versions (kind, key, env, version)
);
-- Flag states by environment, for deleting an environment. Partial, so the
-- planner never prefers it to the primary key for point lookups.
CREATE INDEX current_states_by_env ON current (env) WHERE kind = 'flag-state';

-- The append-only, hash-chained audit log.
CREATE TABLE audit_log (
    seq       bigint      PRIMARY KEY,
    time      timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    target    text        NOT NULL,
    diff      json        NOT NULL,
    reason    text        NOT NULL DEFAULT '',
    prev_hash bytea       NOT NULL,
    hash      bytea       NOT NULL
);

-- The tail of the audit log, one row. Every writer locks it first
-- (SELECT … FOR UPDATE), so writers run one at a time and the chain stays
-- linear across replicas.
CREATE TABLE audit_head (
    id   integer     PRIMARY KEY CHECK (id = 1),
    seq  bigint      NOT NULL,
    hash bytea       NOT NULL,
    time timestamptz
);
INSERT INTO audit_head (id, seq, hash, time) VALUES (1, 0, ''::bytea, NULL);

-- Access keys; only the hash of a secret is stored.
CREATE TABLE keys (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    scope      text        NOT NULL CHECK (scope IN ('admin', 'sdk')),
    env        text        NOT NULL DEFAULT '',
    hash       bytea       NOT NULL UNIQUE,
    prefix     text        NOT NULL DEFAULT '',
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE FUNCTION weir_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER versions_immutable BEFORE UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION weir_reject_change();
CREATE TRIGGER versions_no_truncate BEFORE TRUNCATE ON versions
    FOR EACH STATEMENT EXECUTE FUNCTION weir_reject_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION weir_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION weir_reject_change();
