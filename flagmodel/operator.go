package flagmodel

// Operator is a clause operator.
type Operator string

// Operators. See docs/evaluation.md for the exact semantics of each,
// including how type mismatches and list-valued attributes behave.
const (
	OpIn         Operator = "in"
	OpStartsWith Operator = "startsWith"
	OpEndsWith   Operator = "endsWith"
	OpContains   Operator = "contains"
	OpMatches    Operator = "matches"
	OpLt         Operator = "lt"
	OpLte        Operator = "lte"
	OpGt         Operator = "gt"
	OpGte        Operator = "gte"
	OpSemverEq   Operator = "semverEq"
	OpSemverLt   Operator = "semverLt"
	OpSemverLte  Operator = "semverLte"
	OpSemverGt   Operator = "semverGt"
	OpSemverGte  Operator = "semverGte"
	OpBefore     Operator = "before"
	OpAfter      Operator = "after"
	OpInCIDR     Operator = "inCIDR"
	OpExists     Operator = "exists"
	OpInSegment  Operator = "inSegment"
)

// Operators lists every valid operator.
var Operators = []Operator{
	OpIn, OpStartsWith, OpEndsWith, OpContains, OpMatches,
	OpLt, OpLte, OpGt, OpGte,
	OpSemverEq, OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte,
	OpBefore, OpAfter, OpInCIDR, OpExists, OpInSegment,
}

// Valid reports whether op is a known operator.
func (op Operator) Valid() bool {
	for _, o := range Operators {
		if o == op {
			return true
		}
	}
	return false
}

// IsSemver reports whether op compares semantic versions.
func (op Operator) IsSemver() bool {
	switch op {
	case OpSemverEq, OpSemverLt, OpSemverLte, OpSemverGt, OpSemverGte:
		return true
	}
	return false
}

// IsNumeric reports whether op compares numbers.
func (op Operator) IsNumeric() bool {
	switch op {
	case OpLt, OpLte, OpGt, OpGte:
		return true
	}
	return false
}
