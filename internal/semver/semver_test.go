package semver

import (
	"cmp"
	"fmt"
	"strings"
	"testing"

	xsemver "golang.org/x/mod/semver"
)

func TestParseAcceptsSemanticVersions(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"1.2.3", Version{1, 2, 3, ""}},
		{"v1.2.3", Version{1, 2, 3, ""}},
		{"V1.2.3", Version{1, 2, 3, ""}},
		{"1.2", Version{1, 2, 0, ""}},
		{"1", Version{1, 0, 0, ""}},
		{"0.0.0", Version{0, 0, 0, ""}},
		{"1.0.0-alpha.1", Version{1, 0, 0, "alpha.1"}},
		{"1.0.0+build.5", Version{1, 0, 0, ""}},
		{"1.0.0-rc.1+build", Version{1, 0, 0, "rc.1"}},
		{"1.0.0-x-y.0.z--", Version{1, 0, 0, "x-y.0.z--"}},
		{"1.4-beta", Version{1, 4, 0, "beta"}},
		{"1.0.0+001", Version{1, 0, 0, ""}}, // build metadata may have leading zeros
		{"9223372036854775807.0.0", Version{1<<63 - 1, 0, 0, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := Parse(tt.in)
			if !ok || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, true", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestParseRejectsWhatIsNotASemanticVersion(t *testing.T) {
	tests := []struct {
		in, why string
	}{
		{"", "empty"},
		{"v", "no number"},
		{"a.b.c", "letters for numbers"},
		{"1.2.3-", "empty pre-release"},
		{"1.2.3+", "empty build metadata"},
		{"1.2.3-alpha..1", "empty pre-release identifier"},
		{"1.2.3+build.", "empty build identifier"},
		{"1.2.3-al_pha", "pre-release outside [0-9A-Za-z-]"},
		{"1.2.3-01", "numeric pre-release identifier with a leading zero"},
		{"1.2.3-alpha.007", "numeric pre-release identifier with leading zeros"},
		{"1..2", "empty minor"},
		{"1.", "dot without minor"},
		{"1.2.", "dot without patch"},
		{"1.2.3.4", "four numbers"},
		{"01x", "trailing garbage"},
		{" 1.2.3", "leading space"},
		{"1.2.3 ", "trailing space"},
		{"-1.2.3", "negative"},
		{"9223372036854775808.0.0", "major overflows 63 bits"},
		{"1.99999999999999999999.0", "minor overflows 63 bits"},
		{"1.0.18446744073709551616", "patch overflows 64 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			if got, ok := Parse(tt.in); ok {
				t.Errorf("Parse(%q) = %+v, true; want false (%s)", tt.in, got, tt.why)
			}
		})
	}
}

// precedence is the example chain of SemVer 2.0.0 §11, lowest first.
var precedence = []string{
	"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
	"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
	"1.0.1", "1.1.0-0", "1.1.0", "1.10.0", "2.0.0", "10.0.0",
}

func TestCompareFollowsTheSpecificationPrecedenceChain(t *testing.T) {
	for i, a := range precedence {
		for j, b := range precedence {
			want := cmp.Compare(i, j)
			if got := Compare(mustParse(t, a), mustParse(t, b)); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestCompareIgnoresBuildMetadataAndTheVPrefix(t *testing.T) {
	tests := []struct{ a, b string }{
		{"1.0.0+build.1", "1.0.0+build.2"},
		{"1.0.0-rc.1+a", "1.0.0-rc.1"},
		{"v1.2.3", "1.2.3"},
		{"1.2", "1.2.0"},
		{"1", "1.0.0+x"},
	}
	for _, tt := range tests {
		if got := Compare(mustParse(t, tt.a), mustParse(t, tt.b)); got != 0 {
			t.Errorf("Compare(%s, %s) = %d, want 0", tt.a, tt.b, got)
		}
	}
}

func TestParseAndCompareDoNotAllocate(t *testing.T) {
	inputs := []string{"1.0.0-rc.1+build", "v10.20.30", "1.0.0-alpha.beta.11", "not a version"}
	for _, in := range inputs {
		if n := testing.AllocsPerRun(100, func() { Parse(in) }); n != 0 {
			t.Errorf("Parse(%q) allocates %v times, want 0", in, n)
		}
	}
	a, b := mustParse(t, "1.0.0-beta.11"), mustParse(t, "1.0.0-beta.2")
	if n := testing.AllocsPerRun(100, func() { Compare(a, b) }); n != 0 {
		t.Errorf("Compare allocates %v times, want 0", n)
	}
}

// FuzzCompareAgreesWithXMod checks Parse and Compare against
// golang.org/x/mod/semver on canonical "vX.Y.Z[-pre]" inputs, the subset
// where both implement plain SemVer 2.0.0.
func FuzzCompareAgreesWithXMod(f *testing.F) {
	for i := range precedence {
		for j := range precedence {
			f.Add("v"+precedence[i], "v"+precedence[j])
		}
	}
	f.Add("v1.0.0-01", "v1.0.0-1")
	f.Add("v01.0.0", "v1.0.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := Parse(a)
		vb, okb := Parse(b)
		for _, s := range []string{a, b} {
			if !canonicalShape(s) {
				return
			}
			if _, ok := Parse(s); ok != xsemver.IsValid(s) {
				t.Fatalf("Parse(%q) ok = %v, x/mod IsValid = %v", s, ok, !ok)
			}
		}
		if !oka || !okb {
			return
		}
		if got, want := Compare(va, vb), xsemver.Compare(a, b); got != want {
			t.Errorf("Compare(%q, %q) = %d, x/mod says %d", a, b, got, want)
		}
	})
}

// canonicalShape reports whether s is "v" + three dot-separated runs of
// digits without leading zeros, optionally followed by "-" and anything
// without '+'. Leading zeros in X.Y.Z are a documented difference: this
// package accepts "01.2.3" as 1.2.3, x/mod rejects it.
func canonicalShape(s string) bool {
	if !strings.HasPrefix(s, "v") {
		return false
	}
	core, _, _ := strings.Cut(s[1:], "-")
	if strings.Contains(s, "+") {
		return false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') || len(p) > 18 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// FuzzCompareIsATotalOrder checks on arbitrary inputs that Compare is
// reflexive, antisymmetric and transitive, so sorting by it is sound.
func FuzzCompareIsATotalOrder(f *testing.F) {
	f.Add("1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.11")
	f.Add("1.0.0-rc.1", "1.0.0", "1.0.0+build")
	f.Add("1.0.0-a-b", "1.0.0-a.b", "1.0.0-1")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		va, oka := Parse(a)
		vb, okb := Parse(b)
		vc, okc := Parse(c)
		if !oka || !okb || !okc {
			return
		}
		if Compare(va, va) != 0 {
			t.Fatalf("Compare(%q, %q) != 0", a, a)
		}
		if ab, ba := Compare(va, vb), Compare(vb, va); ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		ab, bc, ac := Compare(va, vb), Compare(vb, vc), Compare(va, vc)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%q <= %q <= %q but Compare(%q, %q) = %d", a, b, c, a, c, ac)
		}
		if ab == 0 && fmt.Sprint(va) != fmt.Sprint(vb) {
			t.Fatalf("Compare(%q, %q) = 0 but they parse to %+v and %+v", a, b, va, vb)
		}
	})
}

func mustParse(t *testing.T, s string) Version {
	t.Helper()
	v, ok := Parse(s)
	if !ok {
		t.Fatalf("Parse(%q) failed", s)
	}
	return v
}
