// Package store is Weir's persistence contract: configuration with immutable
// versions, the hash-chained audit log, access keys and telemetry events.
// Backends live in sub-packages (sqlite, postgres) and all pass the
// conformance suite in storetest.
//
// Every configuration write goes through Commit with a Changeset: the
// changes, the expected versions they were computed from, and who made them
// and why. A Commit is one transaction: each changed flag state or segment
// gets a new version (previous version + 1) holding its full content, and
// one audit entry per change is appended, or nothing is written at all.
// History is never rewritten; rolling back is a new version whose content
// equals an old one.
//
// Telemetry (EventStore) is stored apart from all that: batches of exposures
// and track events, appended idempotently by batch ID, summarised, and
// deleted when their retention ends, without versions or audit entries.
//
// Backends translate driver errors in exactly one function each, into the
// sentinel errors below, which callers test with errors.Is.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/weirhq/weir/flagmodel"
)

// Sentinel errors.
var (
	// ErrNotFound: the environment, flag, segment, version or key does not
	// exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an expected version is not the current one. The error
	// is a *ConflictError.
	ErrConflict = errors.New("version conflict")
	// ErrInvalid: the change breaks a store invariant (for example a state
	// for an unknown environment).
	ErrInvalid = errors.New("invalid change")
	// ErrUnavailable: the database cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
)

// ConflictError reports a stale expected version.
type ConflictError struct {
	// Target names the versioned object, e.g. `flag "checkout" in production`.
	Target   string
	Expected int64
	Current  int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: expected version %d, current version is %d", e.Target, e.Expected, e.Current)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Kind is the kind of a versioned object.
type Kind string

// Versioned kinds.
const (
	// KindFlagState: a flag's state in one environment. Its version is the
	// flag version that evaluation reports.
	KindFlagState Kind = "flag-state"
	// KindFlag: a flag's definition (description, owner, kind, type,
	// variants, tags, sunset), shared by all environments.
	KindFlag Kind = "flag"
	// KindSegment: a segment.
	KindSegment Kind = "segment"
	// KindEnvironment: an environment's settings.
	KindEnvironment Kind = "environment"
	// KindMetric: a metric definition.
	KindMetric Kind = "metric"
	// KindExperiment: an experiment, with its lifecycle state. Lifecycle
	// steps that change a flag commit the flag state in the same
	// changeset.
	KindExperiment Kind = "experiment"
)

// AnyVersion as an expected version skips the concurrency check.
const AnyVersion int64 = -1

// Change is one write in a Changeset. ExpectedVersion is the version the
// change was computed from: 0 means "must not exist yet", AnyVersion skips
// the check. Exactly one of the content fields matches Kind; Delete removes
// the object (a final version with Deleted set is recorded).
type Change struct {
	Kind            Kind
	Key             string // flag, segment or environment key
	Env             string // for KindFlagState
	ExpectedVersion int64
	Delete          bool

	Flag        *flagmodel.Flag // definition; Environments is ignored
	State       *flagmodel.FlagState
	Segment     *flagmodel.Segment
	Environment *flagmodel.Environment
	Metric      *flagmodel.Metric
	Experiment  *flagmodel.Experiment
}

// Changeset is everything one Commit writes, atomically.
type Changeset struct {
	Actor  string
	Reason string
	// Action names the operation for the audit log, e.g. "apply",
	// "flag.enable", "rollback".
	Action  string
	Changes []Change
}

// Committed reports the versions a Commit created, in Changes order.
type Committed struct {
	Versions []int64
	// AuditSeq is the sequence number of the last audit entry written.
	AuditSeq int64
	Time     time.Time
}

// Version is one immutable version of an object.
type Version struct {
	Kind    Kind
	Key     string
	Env     string
	Version int64
	Deleted bool
	// Content is the object's JSON as written by the flagmodel types.
	Content json.RawMessage
	Actor   string
	Reason  string
	Action  string
	Time    time.Time
}

// Config is the current state of everything, with versions.
type Config struct {
	Environments []Versioned[flagmodel.Environment]
	Segments     []Versioned[flagmodel.Segment]
	// Flags hold their definitions; Flag.Environments is filled with the
	// current states, whose Version fields are set.
	Flags       []Versioned[flagmodel.Flag]
	Metrics     []Versioned[flagmodel.Metric]
	Experiments []Versioned[flagmodel.Experiment]
	// AuditSeq is the last audit sequence number the snapshot includes, so
	// a reader can tell whether it has caught up with a notification.
	AuditSeq int64
}

// Versioned pairs a current object with its version.
type Versioned[T any] struct {
	Value   T
	Version int64
}

// AuditEntry is one record of the append-only, hash-chained audit log.
type AuditEntry struct {
	Seq    int64
	Time   time.Time
	Actor  string
	Action string
	// Target names the object, e.g. "flag-state/checkout/production".
	Target string
	// Diff is a JSON document describing the change (before/after).
	Diff     json.RawMessage
	Reason   string
	PrevHash []byte
	Hash     []byte
}

// Scope is what a key may do.
type Scope string

// Key scopes.
const (
	ScopeAdmin Scope = "admin"
	ScopeSDK   Scope = "sdk"
)

// Key is an access key. The secret itself is never stored: only its hash.
type Key struct {
	ID        string
	Name      string
	Scope     Scope
	Env       string // SDK keys only
	Hash      []byte
	Prefix    string // first characters of the secret, to recognise it in lists
	CreatedBy string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// EventBatch is a validated batch of events ready to store, with units
// already tokenized: raw unit identifiers never reach a store.
type EventBatch struct {
	Env string
	// ID is the sender's idempotency key.
	ID         string
	ReceivedAt time.Time
	// Dropped is what the sender reported dropping before this batch.
	Dropped   int64
	Exposures []Exposure
	Tracks    []Track
}

// Exposure is a stored exposure event.
type Exposure struct {
	Time time.Time
	// Unit is the unit's token (HMAC-SHA-256 under the environment's unit
	// token key, truncated to 16 bytes).
	Unit        []byte
	Flag        string
	Variant     string
	FlagVersion int64
	Reason      string
	Experiment  string
	Rollout     string
}

// Track is a stored metric event.
type Track struct {
	Time     time.Time
	Unit     []byte
	Name     string
	Value    float64
	HasValue bool
	// Properties is a JSON object of the allow-listed properties, or nil.
	Properties json.RawMessage
}

// EventStats summarises an environment's events over a window.
type EventStats struct {
	Exposures int64
	Tracks    int64
	// Batches counts stored batches received in the window; Dropped sums
	// what their senders reported dropping.
	Batches int64
	Dropped int64
	// Flags counts exposures per flag and variant, by flag then variant.
	Flags []FlagVariantCount
	// Metrics counts track events per name, by name.
	Metrics []MetricCount
	// LastEvent is the newest event time in the window (zero when none).
	LastEvent time.Time
}

// FlagVariantCount counts exposures of one variant of a flag.
type FlagVariantCount struct {
	Flag, Variant string
	Experiment    string
	Rollout       string
	Exposures     int64
}

// MetricCount counts track events of one name.
type MetricCount struct {
	Name   string
	Events int64
	// WithValue counts the events that carried a value; Sum adds the values.
	WithValue int64
	Sum       float64
}

// EventStore is the telemetry part of the contract: event batches, their
// statistics, retention and the unit token keys.
//
// Events are data, not configuration: they have no versions and no audit
// entries. Times are stored at microsecond precision, in UTC.
type EventStore interface {
	// AppendEvents stores event batches in one transaction, or nothing. A
	// batch whose (Env, ID) is already stored is skipped: its events are
	// not written again, and dup[i] is true for it. Two batches with the
	// same (Env, ID) in one call are stored once, as the first of them;
	// the same ID in two environments names two batches.
	//
	// A batch for an environment that does not exist, or a malformed one
	// (no environment, ID or time received; an event without a time, a
	// unit, a flag and variant or a name; a string that is not UTF-8 or
	// holds a NUL; a value that is not a finite number; properties that
	// are not a JSON object) is ErrInvalid, and nothing of the call is
	// stored.
	AppendEvents(ctx context.Context, batches []EventBatch) (dup []bool, err error)
	// EventStats summarises an environment's stored events with times in
	// [from, to), and the batches received in that window. An environment
	// without events, known or not, and an empty window have zero
	// statistics.
	EventStats(ctx context.Context, env string, from, to time.Time) (EventStats, error)
	// DeleteEventsBefore deletes up to limit rows of an environment's
	// data older than before: exposures and track events by event time,
	// then batch records by time received. It reports how many rows it
	// deleted, events and batch records together. Callers repeat it until
	// it deletes fewer than limit, so no transaction holds the database
	// for long; then nothing older than before is left. It works on the
	// events of a deleted environment too. A limit below 1 is ErrInvalid.
	DeleteEventsBefore(ctx context.Context, env string, before time.Time, limit int) (int64, error)
	// UnitTokenKey returns the environment's secret for tokenizing units,
	// creating a random 32-byte one on first use. Concurrent first calls
	// (from several replicas too) all get the same key. An unknown
	// environment is ErrNotFound. The key outlives the environment: one
	// deleted and re-created under the same key gets the same secret.
	UnitTokenKey(ctx context.Context, env string) ([]byte, error)
}

// Store is the persistence contract every backend implements.
type Store interface {
	EventStore
	AnalysisStore

	// Commit writes a changeset in one transaction, or nothing.
	Commit(ctx context.Context, cs *Changeset) (Committed, error)
	// Load returns the current configuration.
	Load(ctx context.Context) (*Config, error)
	// History returns every version of an object, oldest first.
	History(ctx context.Context, kind Kind, key, env string) ([]Version, error)
	// Audit returns up to limit entries with Seq > after, in order; a
	// limit of 0 or less means no limit.
	Audit(ctx context.Context, after int64, limit int) ([]AuditEntry, error)

	// CreateKey stores a new key and appends a "key.create" audit entry
	// (without the hash). A zero CreatedAt is set to the commit time. A
	// duplicate id or hash is ErrConflict; an SDK key for an unknown
	// environment is ErrInvalid.
	CreateKey(ctx context.Context, k Key) error
	// Keys returns every key, revoked ones included, oldest first.
	Keys(ctx context.Context) ([]Key, error)
	// KeyByHash returns the key with the given hash, revoked or not: a
	// revoked key comes back with RevokedAt set, so callers can tell
	// "revoked" from "unknown". A hash no key has is ErrNotFound.
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	// RevokeKey revokes a key and appends a "key.revoke" audit entry.
	// Revoking a revoked key changes nothing; an unknown id is
	// ErrNotFound.
	RevokeKey(ctx context.Context, id, actor string) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}
