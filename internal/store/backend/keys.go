package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// Audit actions for key changes.
const (
	ActionKeyCreate = "key.create"
	ActionKeyRevoke = "key.revoke"
)

// keyRecord is a key as the audit log shows it: everything but the hash.
type keyRecord struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Env       string     `json:"env,omitempty"`
	Prefix    string     `json:"prefix,omitempty"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

func record(k store.Key) []byte {
	data, _ := json.Marshal(keyRecord{k.ID, k.Name, string(k.Scope), k.Env, k.Prefix, k.CreatedBy, k.CreatedAt, k.RevokedAt})
	return data
}

// CreateKey stores k and records its creation in the audit log. A zero
// CreatedAt is set to now. SDK keys must name an existing environment; admin
// keys name none.
func CreateKey(ctx context.Context, tx Tx, k store.Key, now func() time.Time) error {
	var problem string
	switch {
	case k.ID == "":
		problem = "no id"
	case len(k.Hash) == 0:
		problem = "no hash"
	case k.CreatedBy == "":
		problem = "no creator"
	case k.RevokedAt != nil:
		problem = "a new key cannot be revoked already"
	case k.Scope == store.ScopeAdmin && k.Env != "":
		problem = "admin keys are not bound to an environment"
	case k.Scope == store.ScopeSDK && k.Env == "":
		problem = "SDK keys are bound to an environment"
	case k.Scope != store.ScopeAdmin && k.Scope != store.ScopeSDK:
		problem = fmt.Sprintf("unknown scope %q", k.Scope)
	}
	if problem != "" {
		return fmt.Errorf("create key %q: %w: %s", k.ID, store.ErrInvalid, problem)
	}
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return err
	}
	t := commitTime(now(), head)
	if k.CreatedAt.IsZero() {
		k.CreatedAt = t
	}
	k.CreatedAt = Timestamp(k.CreatedAt)
	if k.Scope == store.ScopeSDK {
		ref := Ref{store.KindEnvironment, k.Env, ""}
		env, err := tx.Current(ctx, []Ref{ref})
		if err != nil {
			return err
		}
		if !env[ref].Exists() {
			return fmt.Errorf("create key %q: %w: environment %q does not exist", k.ID, store.ErrInvalid, k.Env)
		}
	}
	if err := tx.InsertKey(ctx, k); err != nil {
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	diff, _ := Diff(jsonNull, record(k))
	return appendOne(ctx, tx, head, store.AuditEntry{
		Time: t, Actor: k.CreatedBy, Action: ActionKeyCreate, Target: "key/" + k.ID, Diff: diff,
	})
}

// RevokeKey revokes the key with the given id and records it in the audit
// log. Revoking a revoked key changes nothing and succeeds. An unknown id is
// store.ErrNotFound.
func RevokeKey(ctx context.Context, tx Tx, id, actor string, now func() time.Time) error {
	if actor == "" {
		return fmt.Errorf("revoke key %q: %w: no actor", id, store.ErrInvalid)
	}
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return err
	}
	k, err := tx.Key(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	if k.RevokedAt != nil {
		return nil
	}
	t := commitTime(now(), head)
	if err := tx.RevokeKey(ctx, id, t); err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	before := record(k)
	k.RevokedAt = &t
	diff, _ := Diff(before, record(k))
	return appendOne(ctx, tx, head, store.AuditEntry{
		Time: t, Actor: actor, Action: ActionKeyRevoke, Target: "key/" + id, Diff: diff,
	})
}

func appendOne(ctx context.Context, tx Tx, head Head, e store.AuditEntry) error {
	entries := []store.AuditEntry{e}
	chain(head, entries)
	return tx.AppendAudit(ctx, entries)
}
