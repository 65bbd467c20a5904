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
// The SDK imports only the flag model, the evaluator and the standard
// library. For OpenFeature, see package sdk/openfeature.
package sdk
