// Package server is Weir's HTTP surface on one listener: the admin API under
// /api/v1 (JSON, RFC 9457 problem details, optimistic concurrency with
// versions), OFREP under /ofrep/v1, SDK sync under /sdk/v1, the event
// intake under /events/v1, health and readiness probes and Prometheus
// metrics.
//
// Evaluation never reads the database. The server keeps one prepared
// eval.Snapshot per environment and swaps the whole set atomically after
// every committed change (Reload). Every write is planned against the
// stored configuration, validated as a whole, and committed in one store
// transaction with the expected versions it was computed from, so a
// concurrent change yields 409 Conflict rather than a lost update.
//
// The event intake (events.go) reads, decodes and validates a batch, then
// hands it to the ingest pipeline (Options.Intake), which tokenizes,
// queues and stores it; the request is answered 202 only once the batch is
// durable, and with 429 and Retry-After whenever the intake would
// otherwise have to buffer without bound.
//
// Errors are mapped to HTTP statuses in exactly one place, writeError.
package server
