// Package ingest is the event intake's pipeline, between the HTTP handler
// that decodes and validates a batch and the store that keeps it. It knows
// nothing of HTTP.
//
// Submit prepares a batch in the caller's goroutine: every unit identifier
// is replaced by its token (HMAC-SHA-256 under the environment's unit token
// key, truncated to 16 bytes), and track-event properties are kept only
// when the environment's allow-list names them and they are not private
// attributes. Raw units never go further: not into the queue, the store,
// the logs, errors or metrics.
//
// The prepared batch then joins a queue bounded in events (not batches).
// When the queue is full Submit fails at once with ErrQueueFull: the caller
// answers 429 and the sender retries later, so a burst costs the server
// neither unbounded memory nor unbounded waiting.
//
// One writer goroutine does group commit: it takes every queued batch (up
// to a cap of events per transaction), stores them with one AppendEvents
// call, and only then wakes each submitter with its outcome: stored,
// duplicate (the batch's idempotency key was stored before) or the store's
// error. Submit therefore returns only once its batch is durable, and a
// thousand concurrent senders cost one transaction, not a thousand.
//
// After a group is stored its events are offered to tail subscribers
// (Subscribe), through a bounded buffer per subscriber that drops (and
// counts) rather than slow the writer down.
//
// Stop stops accepting, writes what is queued and returns; it is the
// second step of the server's ordered shutdown, after the HTTP server
// stopped accepting requests and before the store closes.
package ingest
