// Package semver parses and compares semantic versions without allocating,
// for clause operators that compare a context attribute on every evaluation.
//
// Parsing follows Semantic Versioning 2.0.0 with two leniencies that users of
// flag targeting expect: a leading "v" is accepted, and a missing minor or
// patch number counts as zero ("2" is 2.0.0, "1.4" is 1.4.0), and leading
// zeros in the major, minor and patch numbers are read as decimal ("01.2.3"
// is 1.2.3; numeric pre-release identifiers keep the strict rule). Build metadata
// ("+build.5") is accepted and ignored by comparisons, as the specification
// says. Numeric parts must fit in 63 bits.
package semver

import "cmp"

// Version is a parsed semantic version. Pre aliases the parsed string.
type Version struct {
	Major, Minor, Patch uint64
	// Pre is the pre-release part without its leading '-', or "".
	Pre string
}

// Parse reads s as a semantic version. It reports false, without allocating,
// when s is not one.
func Parse(s string) (Version, bool) {
	var v Version
	i := 0
	if i < len(s) && (s[i] == 'v' || s[i] == 'V') {
		i++
	}
	var ok bool
	if v.Major, i, ok = number(s, i); !ok {
		return Version{}, false
	}
	if i < len(s) && s[i] == '.' {
		if v.Minor, i, ok = number(s, i+1); !ok {
			return Version{}, false
		}
		if i < len(s) && s[i] == '.' {
			if v.Patch, i, ok = number(s, i+1); !ok {
				return Version{}, false
			}
		}
	}
	if i < len(s) && s[i] == '-' {
		start := i + 1
		end := start
		for end < len(s) && s[end] != '+' {
			end++
		}
		if !validIdentifiers(s[start:end], true) {
			return Version{}, false
		}
		v.Pre = s[start:end]
		i = end
	}
	if i < len(s) && s[i] == '+' {
		if !validIdentifiers(s[i+1:], false) {
			return Version{}, false
		}
		i = len(s)
	}
	if i != len(s) {
		return Version{}, false
	}
	return v, true
}

func number(s string, i int) (uint64, int, bool) {
	start := i
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, i, false
		}
		n = n*10 + d
		i++
	}
	return n, i, i > start
}

// validIdentifiers checks a dot-separated list of non-empty [0-9A-Za-z-]+.
// With noLeadingZeros (pre-release identifiers), a numeric identifier may not
// start with '0' unless it is "0": comparePre relies on it, and SemVer 2.0.0
// forbids it.
func validIdentifiers(s string, noLeadingZeros bool) bool {
	if s == "" {
		return false
	}
	n, start, numeric := 0, 0, true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 0 || (noLeadingZeros && numeric && n > 1 && s[start] == '0') {
				return false
			}
			n, start, numeric = 0, i+1, true
			continue
		}
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
			numeric = false
		default:
			return false
		}
		n++
	}
	return true
}

// Compare returns -1, 0 or +1 as a is lower than, equal to or higher than b
// in semantic-version precedence.
func Compare(a, b Version) int {
	if c := cmp.Compare(a.Major, b.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Minor, b.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Patch, b.Patch); c != 0 {
		return c
	}
	switch {
	case a.Pre == b.Pre:
		return 0
	case a.Pre == "":
		return 1 // a release outranks its pre-releases
	case b.Pre == "":
		return -1
	}
	return comparePre(a.Pre, b.Pre)
}

// comparePre compares dot-separated pre-release identifiers: numeric ones
// numerically, others in ASCII order, numeric below alphanumeric, and a
// shorter list below a longer one that it prefixes.
func comparePre(a, b string) int {
	for {
		var x, y string
		x, a = cutDot(a)
		y, b = cutDot(b)
		switch {
		case x == "" && y == "":
			return 0
		case x == "":
			return -1
		case y == "":
			return 1
		}
		xn, yn := isNumeric(x), isNumeric(y)
		switch {
		case xn && yn:
			if len(x) != len(y) { // no leading zeros in valid numerics
				return cmp.Compare(len(x), len(y))
			}
			if x != y {
				return cmp.Compare(x, y)
			}
		case xn:
			return -1
		case yn:
			return 1
		default:
			if x != y {
				return cmp.Compare(x, y)
			}
		}
	}
}

func cutDot(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
