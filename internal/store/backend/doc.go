// Package backend holds the parts of Weir's store that do not depend on the
// database: the commit semantics (version checks, invariants, new versions,
// audit entries and their hash chain), key creation and revocation, and the
// assembly of a Config from current rows. Each SQL backend (sqlite,
// postgres) implements the small Tx adapter over its own driver and calls
// these functions inside its transaction, so both backends behave the same
// by construction and the conformance suite checks that they do.
//
// Commit, CreateKey and RevokeKey first call Tx.LockAuditHead, which must
// block until the transaction holds the audit log's tail exclusively. Every
// writer therefore runs one after another: version checks read committed
// data, new version numbers cannot collide, and the hash chain stays linear.
//
// For telemetry it holds what both backends check and compute the same way:
// the validation of event batches and of duplicates within a call, the
// order of event statistics, and new unit token keys.
//
// Times are truncated to microseconds (PostgreSQL's precision) before they
// are hashed or stored, and never go backwards along the audit log: a
// commit's time is the later of the clock and the previous entry's time.
package backend
