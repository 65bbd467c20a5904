// Package experiment plans the lifecycle of experiments:
//
//	draft ──start──▶ running ──stop──▶ stopped ──decide──▶ decided ──archive──▶ archived
//	  │                ▲  │               │
//	  │                └──┘ edit          └──start (a new phase)──▶ running
//	  └──────────────────────archive──────────────────────────────▶ archived
//
// Every step is a pure function from the current configuration (a
// store.Config) and a Request (who, why, when) to a Step: the changeset to
// commit, the experiment as it will be, and the regular expressions that
// validating the changed flag compiled. Nothing is read or written here;
// the caller commits the changeset with store.Commit, so each step is one
// transaction with a new version and an audit entry per changed object,
// under the action names below. A changeset carries the versions it was
// planned from, so a concurrent change makes the commit fail with a
// conflict instead of being overwritten.
//
// Steps that change what a flag serves change the flag's state in the same
// changeset:
//
//   - Start adds the rule "experiment:KEY" after the flag's own rules (so
//     targets and explicit rules keep winning) and before its default. The
//     rule serves the experiment's split with the seed "KEY.N" (N is the
//     phase) and names the experiment, so its evaluations are exposures.
//     When the experiment takes less than all units, or belongs to a layer,
//     the rule carries a traffic range: [0, allocation) under the seed
//     "KEY.traffic" without a layer; with a layer, a range of the layer's
//     buckets (seed: the layer key) that no other running experiment of the
//     layer in that environment holds, allocated first-fit.
//   - Editing a running experiment's allocation or weights starts a new
//     phase: the current one is closed, the split gets the seed "KEY.N+1",
//     and the rule is replaced in place.
//   - Stop removes the rule: units get what they got before the experiment.
//   - Decide records the outcome; a ship decision may also make the shipped
//     variant the flag's default.
//
// A step the experiment's status does not allow is a *RefusedError
// ("cannot start: experiment is decided"); a definition or result that is
// not valid is a *flagmodel.ValidationError listing every problem.
package experiment
