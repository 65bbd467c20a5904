package storetest

import (
	"context"
	"testing"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

func environment(key string) *flagmodel.Environment { return &flagmodel.Environment{Key: key} }

func flagDefinition(key string) *flagmodel.Flag {
	return &flagmodel.Flag{
		Key:      key,
		Type:     flagmodel.TypeBoolean,
		Variants: flagmodel.Variants{{Key: "on", Value: true}, {Key: "off", Value: false}},
	}
}

func flagState(enabled bool) *flagmodel.FlagState {
	return &flagmodel.FlagState{Enabled: enabled, OffVariant: "off", Default: &flagmodel.Serve{Variant: "on"}}
}

func createEnv(key string) store.Change {
	return store.Change{Kind: store.KindEnvironment, Key: key, Environment: environment(key)}
}

func createFlag(key string) store.Change {
	return store.Change{Kind: store.KindFlag, Key: key, Flag: flagDefinition(key)}
}

func setState(flag, env string, expected int64, enabled bool) store.Change {
	return store.Change{Kind: store.KindFlagState, Key: flag, Env: env, ExpectedVersion: expected, State: flagState(enabled)}
}

func changeset(action string, changes ...store.Change) *store.Changeset {
	return &store.Changeset{Actor: "alice@example.com", Reason: "testing " + action, Action: action, Changes: changes}
}

// seed creates environments production and staging and the flag
// "checkout", enabled in production (version 1).
func seed(t *testing.T, s store.Store) store.Committed {
	t.Helper()
	return mustCommit(t, s, changeset("apply",
		createEnv("production"), createEnv("staging"),
		createFlag("checkout"), setState("checkout", "production", 0, true)))
}

func mustCommit(t *testing.T, s store.Store, cs *store.Changeset) store.Committed {
	t.Helper()
	c, err := s.Commit(context.Background(), cs)
	if err != nil {
		t.Fatalf("Commit(%s): %v", cs.Action, err)
	}
	if len(c.Versions) != len(cs.Changes) {
		t.Fatalf("Commit(%s) reported %d versions for %d changes", cs.Action, len(c.Versions), len(cs.Changes))
	}
	return c
}

func mustLoad(t *testing.T, s store.Store) *store.Config {
	t.Helper()
	cfg, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func mustAudit(t *testing.T, s store.Store) []store.AuditEntry {
	t.Helper()
	entries, err := s.Audit(context.Background(), 0, 0)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return entries
}

func mustHistory(t *testing.T, s store.Store, kind store.Kind, key, env string) []store.Version {
	t.Helper()
	h, err := s.History(context.Background(), kind, key, env)
	if err != nil {
		t.Fatalf("History(%s %s %s): %v", kind, key, env, err)
	}
	return h
}

func findFlag(cfg *store.Config, key string) (store.Versioned[flagmodel.Flag], bool) {
	for _, f := range cfg.Flags {
		if f.Value.Key == key {
			return f, true
		}
	}
	return store.Versioned[flagmodel.Flag]{}, false
}

// stateOf returns the current state of flag in env, or nil.
func stateOf(cfg *store.Config, flag, env string) *flagmodel.FlagState {
	f, ok := findFlag(cfg, flag)
	if !ok {
		return nil
	}
	return f.Value.Environments[env]
}
