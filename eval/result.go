package eval

import "fmt"

// Reason says why a result was served. Its text forms are OpenFeature's
// reasons; it is a small integer so results stay cheap to copy.
type Reason uint8

// Reasons.
const (
	// ReasonStatic: the flag has no targets and no rules; the default serve
	// is a single variant.
	ReasonStatic Reason = iota + 1
	// ReasonDefault: no target or rule matched; the default serve applied.
	ReasonDefault
	// ReasonTargetingMatch: an individual target or a rule serving one
	// variant matched.
	ReasonTargetingMatch
	// ReasonSplit: the variant came from a percentage split.
	ReasonSplit
	// ReasonDisabled: the flag is disabled in the environment.
	ReasonDisabled
	// ReasonPrerequisiteFailed: a prerequisite flag did not serve one of the
	// required variants.
	ReasonPrerequisiteFailed
	// ReasonError: evaluation failed; ErrorCode says why.
	ReasonError
)

// ErrorCode says why an evaluation failed. Its text forms are OpenFeature's
// error codes; the zero value means no error.
type ErrorCode uint8

// Error codes.
const (
	ErrorFlagNotFound ErrorCode = iota + 1
	ErrorTargetingKeyMissing
	ErrorTypeMismatch
	ErrorParse
	ErrorGeneral
)

// Result is the outcome of one evaluation. Fields are ordered to keep the
// struct small: it is copied on every evaluation.
type Result struct {
	// Value is the served variant's value: bool, string, float64, or for
	// object flags map[string]any or []any. It is nil when no variant is
	// served (an error, or a disabled flag without an off variant), in which
	// case the application uses its own default. Object values are shared by
	// every result of the snapshot and must not be modified.
	Value any
	// Variant is the served variant's name, or "".
	Variant string
	// RuleID names the matching rule: its id, or "rules[N]" when the rule
	// has none. Empty unless a rule matched.
	RuleID string
	// ErrorMessage explains ErrorCode in words.
	ErrorMessage string
	// Allocation is set when the variant came from a split that serves an
	// experiment or a guarded rollout: the evaluation is an exposure. It is
	// shared by every result of the snapshot and must not be modified.
	Allocation *Allocation
	// Version is the flag's version in the snapshot's environment.
	Version int64
	// RuleIndex is the matching rule's position, or -1.
	RuleIndex int32
	Reason    Reason
	// ErrorCode is set when Reason is ERROR.
	ErrorCode ErrorCode
}

// Allocation names the experiment or guarded rollout whose split served a
// result, and the attribute that identifies its unit of analysis.
type Allocation struct {
	// Experiment is the experiment's key, or "".
	Experiment string
	// Rollout is the guarded rollout's key, or "".
	Rollout string
	// Unit is the context attribute the split buckets by (its bucketBy,
	// "targetingKey" by default); its value is the exposed unit.
	Unit string
}

// IsError reports whether the evaluation failed.
func (r *Result) IsError() bool { return r.Reason == ReasonError }

var reasonNames = [...]string{"", "STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "PREREQUISITE_FAILED", "ERROR"}

// String returns the OpenFeature name of the reason, or "" for the zero value.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "UNKNOWN"
}

// MarshalText writes the OpenFeature name.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads an OpenFeature reason name.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, n := range reasonNames {
		if i > 0 && n == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("unknown reason %q", b)
}

var errorCodeNames = [...]string{"", "FLAG_NOT_FOUND", "TARGETING_KEY_MISSING", "TYPE_MISMATCH", "PARSE_ERROR", "GENERAL"}

// String returns the OpenFeature name of the error code, or "" for none.
func (c ErrorCode) String() string {
	if int(c) < len(errorCodeNames) {
		return errorCodeNames[c]
	}
	return "GENERAL"
}

// MarshalText writes the OpenFeature name.
func (c ErrorCode) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads an OpenFeature error code name ("" is no error).
func (c *ErrorCode) UnmarshalText(b []byte) error {
	for i, n := range errorCodeNames {
		if n == string(b) {
			*c = ErrorCode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown error code %q", b)
}
