// Package audit defines Weir's audit-log hash chain: a pure function that
// hashes one entry together with the hash of the entry before it, and a
// verifier that walks a run of entries and reports the first broken link.
//
// Each entry's hash is SHA-256 over a canonical, length-prefixed encoding of
// its fields:
//
//	"weir-audit-v1", seq, time, actor, action, target, diff, reason, prev hash
//
// Every field is written as an 8-byte big-endian length followed by its
// bytes, so no choice of field contents can make two different entries
// encode the same way. Seq is written as 8 big-endian bytes and time as UTC
// RFC 3339 with nanoseconds (time.RFC3339Nano). The diff is hashed as the
// exact bytes stored, so storage must keep JSON text verbatim (PostgreSQL
// json, not jsonb, which reorders keys) and times at the precision they were
// hashed with (stores truncate to microseconds before hashing).
//
// Changing the encoding invalidates every stored chain; the version tag in
// the first field exists so a future encoding can be told apart.
//
// The package is pure: no I/O, no clock. Stores compute hashes with Hash when
// they append, and "weir audit verify" checks them with Verify.
package audit
