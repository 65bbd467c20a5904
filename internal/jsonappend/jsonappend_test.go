package jsonappend

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

func marshal(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestStringsAreWrittenExactlyAsEncodingJSONDoes(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\b\f",
		"<html> & </html>", "ünïcødé ✓", "\u2028\u2029", "bad \xff utf8", "emoji 🚀"} {
		if got, want := string(String(nil, s)), marshal(t, s); got != want {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestFloatsAreWrittenExactlyAsEncodingJSONDoes(t *testing.T) {
	for _, f := range []float64{0, -0.0, 1, -1, 0.1, 3.0, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		got, ok := Float(nil, f)
		if want := marshal(t, f); !ok || string(got) != want {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, ok := Float(nil, f); ok {
			t.Errorf("Float(%v) accepted a value JSON cannot hold", f)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("a\"b\\c\n\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(String(nil, s)), marshal(t, s); got != want {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
	})
}
