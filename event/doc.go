// Package event is the wire schema of Weir's telemetry: the exposure and
// track events an application's SDK sends, the batch envelope that carries
// them to the intake (POST /events/v1/batch), and their validation.
//
// An exposure says that a unit (the value of the attribute a split buckets
// by, usually the targeting key) was served a variant of a flag, at a flag
// version, by an experiment or a guarded rollout. A track event says that a
// unit did something an experiment measures (a metric event), with an
// optional numeric value and a few allow-listed properties.
//
// A Batch carries up to Limits.MaxEvents events and an idempotency key: the
// intake stores a batch once, however often it is retried. Decode reads a
// batch strictly (unknown fields, trailing data and wrong types are errors);
// CorrectClock shifts event times by the sender's clock skew when the batch
// says when it was sent; Validate checks every rule and reports every
// problem with the event's index and field, so a sender can tell exactly
// what was wrong. The package is pure: it does no I/O and reads no clock.
package event
