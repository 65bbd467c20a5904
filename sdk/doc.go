// Package sdk is Weir's Go SDK: it evaluates feature flags in process, in
// nanoseconds and without allocating, against a snapshot of one
// environment that it keeps in sync with a Weir server.
//
// New connects with an SDK key (bound to one environment on the server),
// downloads that environment's flags and follows changes over Server-Sent
// Events (GET /sdk/v1/stream), reconnecting with jittered exponential
// backoff and polling GET /sdk/v1/snapshot when streaming keeps failing.
// Meanwhile, and whenever the server is unreachable, it serves the last
// snapshot it accepted; a damaged snapshot (bad JSON, an invalid flags
// file, another environment) is rejected and never replaces it. With
// WithCacheDir the last snapshot survives restarts; WithBootstrap and
// WithOffline serve flags without any server.
//
// Evaluations are typed — Bool, String, Number, Object — and return the
// caller's default whenever the flag serves no value of that type: it is
// missing, of another type (TYPE_MISMATCH), disabled without an off
// variant, or no snapshot has arrived yet (ErrNotReady). The ...Details
// forms add the reason, variant, rule and flag version, which match what
// the server reports for the same context, because both run package eval
// on the same data.
//
// Evaluations served by a split that runs an experiment or a guarded
// rollout are exposures: the client records one per unit, flag, variant
// and flag version within a window (WithExposureDedupWindow), without
// allocating for the repeats. Track records metric events. Both wait in a
// bounded buffer and go to the server's intake (POST /events/v1/batch) in
// gzip-compressed batches from one background goroutine, which retries
// with the batch's idempotency key, honours Retry-After, and counts every
// event it has to drop (EventStats); Close sends what is left. Private
// attributes never leave the application.
//
// The SDK imports only the flag model, the evaluator, the event schema and
// the standard library. For OpenFeature, see package sdk/openfeature.
package sdk
