package auth

import (
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/store"
)

func TestSecretsAreRandomPrefixedAndMatchOnlyTheirHash(t *testing.T) {
	a, shownA, err := NewSecret(store.ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewSecret(store.ScopeSDK)
	if !strings.HasPrefix(a, AdminPrefix) || !strings.HasPrefix(b, SDKPrefix) {
		t.Fatalf("prefixes: %q %q", a, b)
	}
	if len(a) < len(AdminPrefix)+40 {
		t.Errorf("secret too short: %d", len(a))
	}
	if shownA != Shown(a) || len(shownA) >= len(a)/2 {
		t.Errorf("shown part %q reveals too much or differs from Shown", shownA)
	}
	if !Matches(a, Hash(a)) || Matches(b, Hash(a)) || Matches(a+"x", Hash(a)) {
		t.Error("Matches accepts a wrong secret or rejects the right one")
	}
	if string(Hash(a)) == a {
		t.Error("the hash is the secret")
	}
}

func TestBearerTokenParsing(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":    "abc",
		"bearer  abc ":  "abc",
		"Basic abc":     "",
		"":              "",
		"Bearer":        "",
		"BEARER xyz123": "xyz123",
	} {
		if got := BearerToken(header); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", header, got, want)
		}
	}
}
