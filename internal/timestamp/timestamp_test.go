package timestamp

import (
	"regexp"
	"testing"
	"time"
)

func TestParseRFC3339ReadsInstantsAsUnixMilliseconds(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
	}{
		{"the epoch in UTC", "1970-01-01T00:00:00Z", 0},
		{"a recent instant in UTC", "2026-01-02T15:04:05Z", 1767366245000},
		{"a positive offset is east of UTC", "2026-01-02T16:04:05+01:00", 1767366245000},
		{"a negative offset with minutes", "2026-01-02T09:34:05-05:30", 1767366245000},
		{"minus zero offset is UTC", "2026-01-02T15:04:05-00:00", 1767366245000},
		{"one fractional digit is tenths", "1970-01-01T00:00:00.5Z", 500},
		{"two fractional digits are hundredths", "1970-01-01T00:00:00.25Z", 250},
		{"three fractional digits are milliseconds", "1970-01-01T00:00:00.125Z", 125},
		{"four fractional digits truncate", "1970-01-01T00:00:00.1259Z", 125},
		{"nine fractional digits truncate", "1970-01-01T00:00:00.999999999Z", 999},
		{"more than nine fractional digits truncate", "1970-01-01T00:00:00.1239999999999Z", 123},
		{"fractional seconds before an offset", "1970-01-01T01:00:00.001+01:00", 1},
		{"lowercase t and z", "2026-01-02t15:04:05z", 1767366245000},
		{"a space separates date and time", "2026-01-02 15:04:05Z", 1767366245000},
		{"a leap day in a leap year", "2024-02-29T00:00:00Z", 1709164800000},
		{"a leap day in a 400-year leap year", "2000-02-29T00:00:00Z", 951782400000},
		{"a leap second reads as the last millisecond before it", "2016-12-31T23:59:60Z", 1483228799999},
		{"a leap second ignores its fraction", "2016-12-31T23:59:60.5Z", 1483228799999},
		{"before the epoch", "1969-12-31T23:59:59.999Z", -1},
		{"the first year of the common era", "0001-01-01T00:00:00Z", -62135596800000},
		{"January of year zero", "0000-01-01T00:00:00Z", -62167219200000},
		{"the leap day of year zero", "0000-02-29T00:00:00Z", -62162121600000},
		{"the last instant of year 9999", "9999-12-31T23:59:59.999Z", 253402300799999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseRFC3339(tt.in)
			if !ok || got != tt.want {
				t.Errorf("ParseRFC3339(%q) = %d, %v; want %d, true", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestParseRFC3339RejectsInvalidDateTimes(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"a date alone", "2026-01-02"},
		{"no offset", "2026-01-02T15:04:05"},
		{"February 29 outside a leap year", "2023-02-29T00:00:00Z"},
		{"February 29 in a century that is not a leap year", "1900-02-29T00:00:00Z"},
		{"April 31", "2026-04-31T00:00:00Z"},
		{"month 13", "2026-13-01T00:00:00Z"},
		{"month 0", "2026-00-01T00:00:00Z"},
		{"day 0", "2026-01-00T00:00:00Z"},
		{"hour 24", "2026-01-02T24:00:00Z"},
		{"minute 60", "2026-01-02T15:60:05Z"},
		{"second 61", "2026-01-02T15:04:61Z"},
		{"a dot without fractional digits", "2026-01-02T15:04:05.Z"},
		{"a comma before fractional digits", "2026-01-02T15:04:05,5Z"},
		{"a separator other than T, t or space", "2026-01-02X15:04:05Z"},
		{"a one-digit month", "2026-1-02T15:04:05Z"},
		{"an offset without a colon", "2026-01-02T15:04:05+0100"},
		{"an offset of hours only", "2026-01-02T15:04:05+01"},
		{"an offset hour of 24", "2026-01-02T15:04:05+24:00"},
		{"an offset minute of 60", "2026-01-02T15:04:05+01:60"},
		{"an offset with seconds", "2026-01-02T15:04:05+01:00:00"},
		{"text after Z", "2026-01-02T15:04:05Zx"},
		{"a sign before the year", "+2026-01-02T15:04:05Z"},
		{"non-ASCII digits", "２026-01-02T15:04:05Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := ParseRFC3339(tt.in); ok {
				t.Errorf("ParseRFC3339(%q) = %d, true; want false", tt.in, got)
			}
		})
	}
}

func TestParseRFC3339DoesNotAllocate(t *testing.T) {
	for _, in := range []string{"2026-01-02T15:04:05.123456789+05:30", "2026-01-02T15:04:05Z", "garbage that is long enough"} {
		if n := testing.AllocsPerRun(100, func() { ParseRFC3339(in) }); n != 0 {
			t.Errorf("ParseRFC3339(%q) allocates %v times, want 0", in, n)
		}
	}
}

// rfc3339 is the date-time grammar of RFC 3339 §5.6, with the 't', 'z' and
// space separators that §5.6 allows. Ranges are checked separately.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)

// FuzzParseRFC3339AgreesWithTime checks that ParseRFC3339 rejects whatever is
// outside the RFC 3339 grammar, and that on the grammar it agrees with
// time.Parse(time.RFC3339Nano, s). The intentional differences:
//
//   - 't', 'z' and a space for 'T': RFC 3339 §5.6 allows them; time.Parse
//     does not, so those inputs are only checked against the grammar.
//   - a leap second (:60): RFC 3339 allows it and we read it as :59.999;
//     time.Parse rejects it.
//   - a one-digit hour, or a comma before fractional seconds: time.Parse
//     accepts them, RFC 3339 does not, and neither do we.
//   - offset hours above 23 or minutes above 59: time.Parse accepts "+24:00"
//     and "+23:60", RFC 3339's time-numoffset does not, and neither do we.
//   - instants before 1970 with a fraction of a millisecond: Time.UnixMilli
//     rounds toward zero, we drop the fraction (toward the earlier instant),
//     so the expected value is the floor.
func FuzzParseRFC3339AgreesWithTime(f *testing.F) {
	for _, s := range []string{
		"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+05:30", "1969-12-31T23:59:59.9999-00:01",
		"0000-02-29T12:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999999-23:59",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2016-12-31T23:59:60Z", "2026-01-02t15:04:05z",
		"2026-01-02T5:04:05Z", "2026-01-02T15:04:05,5Z", "2026-01-02T15:04:05+24:00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseRFC3339(s)
		if !rfc3339.MatchString(s) {
			if ok {
				t.Fatalf("ParseRFC3339(%q) = %d, true; want false: not RFC 3339", s, got)
			}
			return
		}
		if s[10] != 'T' || s[len(s)-1] == 'z' || s[17:19] == "60" {
			return // RFC 3339 leniencies time.Parse lacks
		}
		if n := len(s); s[n-1] != 'Z' && (s[n-5:n-3] > "23" || s[n-2:] > "59") {
			if ok {
				t.Fatalf("ParseRFC3339(%q) = %d, true; want false: offset out of range", s, got)
			}
			return
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if ok {
				t.Fatalf("ParseRFC3339(%q) = %d, true; time.Parse rejects it: %v", s, got, err)
			}
			return
		}
		if !ok {
			t.Fatalf("ParseRFC3339(%q) failed; time.Parse reads %v", s, tm)
		}
		if want := floorMilli(tm); got != want {
			t.Fatalf("ParseRFC3339(%q) = %d, time.Parse gives %d", s, got, want)
		}
	})
}

// floorMilli is t in whole milliseconds since the epoch, rounded down.
func floorMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Before(time.UnixMilli(ms)) {
		ms--
	}
	return ms
}
