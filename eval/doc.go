// Package eval is Weir's evaluation engine: it turns a flag configuration and
// an evaluation context into a variant, a value and a reason.
//
// Evaluation is split in two. Prepare validates a flags file and compiles one
// environment of it into a Snapshot: target lists become hash sets, regular
// expressions are compiled, semantic versions, dates and CIDR prefixes are
// parsed, split weights become cumulative bucket bounds and the hash state of
// each split's seed is precomputed. Snapshot.Evaluate then runs many times,
// concurrently, without parsing, locking or allocating.
//
// The package is pure: no I/O, no clock, no logging, no global state. The
// same snapshot and the same context always give the same result, on the
// server, in the SDK and in the CLI.
//
// Evaluation never panics and never returns a Go error. Failures are part of
// the Result: Reason is ERROR and ErrorCode says why (FLAG_NOT_FOUND,
// TARGETING_KEY_MISSING, TYPE_MISMATCH, …). The evaluation order, every
// operator's semantics and the bucketing formula are specified in
// docs/evaluation.md and docs/bucketing.md; the specification files in
// testdata pin them.
//
// Explain evaluates like Evaluate and also returns a Trace saying which
// targets, rules and clauses matched or failed and why. It allocates and is
// meant for people, not for hot paths.
package eval
