// Package auth creates and checks access keys. A key is a random secret
// shown once at creation; only its SHA-256 hash is stored, and lookups
// compare hashes in constant time. Admin tokens manage the configuration;
// SDK keys are bound to one environment and may only read its flags and send
// its events.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/weirhq/weir/internal/store"
)

// Token prefixes make keys recognisable (for secret scanners, too).
const (
	AdminPrefix = "weir_admin_"
	SDKPrefix   = "weir_sdk_"
)

// NewSecret returns a new random key of the scope and the short prefix shown
// in key lists.
func NewSecret(scope store.Scope) (secret, shown string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	p := AdminPrefix
	if scope == store.ScopeSDK {
		p = SDKPrefix
	}
	secret = p + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, secret[:len(p)+6], nil
}

// NewID returns a random key identifier.
func NewID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "key_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the stored form of a secret.
func Hash(secret string) []byte {
	h := HashSum(secret)
	return h[:]
}

// HashSum is Hash as an array, which a caller can keep or use as a map key
// without allocating.
func HashSum(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// Matches compares a secret with a stored hash in constant time.
func Matches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(Hash(secret), hash) == 1
}

// Shown returns the displayable prefix of a secret.
func Shown(secret string) string {
	for _, p := range []string{AdminPrefix, SDKPrefix} {
		if strings.HasPrefix(secret, p) && len(secret) >= len(p)+6 {
			return secret[:len(p)+6]
		}
	}
	if len(secret) > 6 {
		return secret[:6]
	}
	return ""
}

// BearerToken extracts the token from an Authorization header ("Bearer x")
// or returns "".
func BearerToken(header string) string {
	const p = "bearer "
	if len(header) > len(p) && strings.EqualFold(header[:len(p)], p) {
		return strings.TrimSpace(header[len(p):])
	}
	return ""
}
