package flagmodel

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseReportsDecodingErrorsWithTheirLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // fragments the error must contain
	}{
		{
			"a YAML syntax error",
			"flags:\n  - key: a\n    type: 'boolean\n",
			[]string{"line 3", "found unexpected end of stream"},
		},
		{
			"an unknown field in a flag",
			"flags:\n  - key: a\n    type: boolean\n    x: 1\n",
			[]string{"line 4", `unknown field "x" in flag`},
		},
		{
			"an unknown field in a flag's environment state",
			"flags:\n  - key: a\n    environments:\n      production:\n        enabled: true\n        enable: true\n",
			[]string{"line 6", `unknown field "enable" in flag environment state`},
		},
		{
			"a misspelt top-level section",
			"flag:\n  - key: a\n",
			[]string{"line 1", `unknown field "flag" in file`},
		},
		{
			"a duplicate variant key",
			"flags:\n  - key: a\n    type: boolean\n    variants:\n      on: true\n      on: false\n",
			[]string{`line 6: variant "on" is defined twice (first at line 5)`},
		},
		{
			"a duplicate split variant",
			"flags:\n  - key: a\n    environments:\n      p:\n        default:\n          split: {a: 50, a: 50}\n",
			[]string{"line 6", `split variant "a" is defined twice (first at line 6)`},
		},
		{
			"a duplicate target variant",
			"flags:\n  - key: a\n    environments:\n      p:\n        targets:\n          on: [u1]\n          on: [u2]\n",
			[]string{`line 7: target variant "on" is defined twice (first at line 6)`},
		},
		{
			"targets that are not a list of keys",
			"flags:\n  - key: a\n    environments:\n      p:\n        targets:\n          on: u1\n",
			[]string{`line 6: targets for "on" must be a list of keys`},
		},
		{
			"variants written as a list",
			"flags:\n  - key: a\n    variants: [on, off]\n",
			[]string{"line 3: variant must be a mapping of name to value"},
		},
		{
			"two YAML documents",
			"flags: []\n---\nsegments: []\n",
			[]string{"line 2: file holds more than one YAML document"},
		},
		{
			"a JSON syntax error",
			"{\n  \"flags\": [\n    {\"key\": \"a\",, }\n  ]\n}\n",
			[]string{"line 3, column 17", "invalid character ','"},
		},
		{
			// encoding/json gives no offset for unknown fields, so the line
			// and column are where decoding stopped: the document's end.
			"an unknown JSON field",
			"{\n  \"flags\": [\n    {\"key\": \"a\", \"x\": 1}\n  ]\n}\n",
			[]string{"line 5, column 2", `unknown field "x"`},
		},
		{
			"a JSON value of the wrong type",
			"{\n  \"flags\": [\n    {\"key\": 1}\n  ]\n}\n",
			[]string{"line 3, column 14", "flags.key: cannot use a JSON number here (want string)"},
		},
		{
			"a duplicate JSON variant",
			"{\"flags\": [{\"key\": \"a\",\n  \"variants\": {\"on\": true, \"on\": false}}]}",
			[]string{"line 2", `variant "on" is defined twice`},
		},
		{
			"data after the JSON document",
			"{\"flags\": []} {}",
			[]string{"unexpected data after the JSON document"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v, want an error", f)
			}
			for _, frag := range tt.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q does not contain %q", err, frag)
				}
			}
			if strings.Contains(err.Error(), "flagmodel.") || strings.HasPrefix(err.Error(), "yaml:") {
				t.Errorf("error %q leaks Go type or package names", err)
			}
		})
	}
}

func TestParseRejectsFilesAboveTheSizeLimit(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "above the limit") {
		t.Errorf("Parse of %d bytes = %v, want a size error", len(data), err)
	}
}

func TestDetectFormatLooksAtTheFirstNonBlankByte(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{`{"flags": []}`, FormatJSON},
		{"\ufeff \n\t{}", FormatJSON},
		{"flags: []", FormatYAML},
		{"", FormatYAML},
		{"[]", FormatYAML},
	}
	for _, tt := range tests {
		if got := DetectFormat([]byte(tt.in)); got != tt.want {
			t.Errorf("DetectFormat(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEncodingAndParsingAgainGivesTheSameModel(t *testing.T) {
	encoders := []struct {
		name   string
		encode func(*bytes.Buffer, *File) error
	}{
		{"YAML", func(b *bytes.Buffer, f *File) error { return EncodeYAML(b, f) }},
		{"JSON", func(b *bytes.Buffer, f *File) error { return EncodeJSON(b, f) }},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "valid", "*"))
	for _, path := range files {
		for _, enc := range encoders {
			t.Run(filepath.Base(path)+" via "+enc.name, func(t *testing.T) {
				want := parseFile(t, path)
				var buf bytes.Buffer
				if err := enc.encode(&buf, want); err != nil {
					t.Fatal(err)
				}
				got, err := Parse(buf.Bytes())
				if err != nil {
					t.Fatalf("Parse of encoded file: %v\n%s", err, buf.Bytes())
				}
				if enc.name == "JSON" && DetectFormat(buf.Bytes()) != FormatJSON {
					t.Errorf("EncodeJSON output is not detected as JSON")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("model changed in the round trip through:\n%s", buf.Bytes())
				}
			})
		}
	}
}

func TestEncodeYAMLKeepsDeclaredOrderOfVariantsSplitsAndTargets(t *testing.T) {
	f := &File{Flags: []Flag{{
		Key: "f", Type: TypeString,
		Variants: Variants{{"z", "z"}, {"a", "a"}, {"m", "m"}},
		Environments: map[string]*FlagState{"p": {
			Enabled: true,
			Targets: Targets{{"z", []string{"u2", "u1"}}, {"a", []string{"u3"}}},
			Default: &Serve{Split: Weights{{Variant: "z", Weight: 12500}, {Variant: "a", Weight: 87500}}},
		}},
	}}}
	var buf bytes.Buffer
	if err := EncodeYAML(&buf, f); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"variants: {z: z, a: a, m: m}",
		"z: [u2, u1]\n",
		"split: {z: 12.5, a: 87.5}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("encoded YAML lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "z: [u2, u1]") > strings.Index(out, "a: [u3]") {
		t.Errorf("targets out of declared order:\n%s", out)
	}
}

func TestParsePercentReadsThousandthsOfAPercent(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"0", 0},
		{"100", 100000},
		{"100.000", 100000},
		{"12.5", 12500},
		{"33.333", 33333},
		{"0.125", 125},
		{"0.001", 1},
		{".5", 500},
		{"5.", 5000},
		{"+5", 5000},
		{" 7 ", 7000},
		{"012", 12000},
		{"1.2500", 1250}, // zeros beyond the third decimal are harmless
		{"150", 150000},  // above 100 is for Validate to report, with its place
		{"999999", 999999000},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePercentRejectsWhatIsNotAPercentage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty percentage"},
		{"0.0005", "more than 3 decimals"},
		{"33.3333", "more than 3 decimals"},
		{"-1", "negative"},
		{"-0", "negative"},
		{"1e2", "not a number"},
		{"0x10", "not a number"},
		{"1_000", "not a number"},
		{"half", "not a number"},
		{"+", "not a number"},
		{".", "not a number"},
		{"1.2.3", "not a number"},
		{"1000000", "above 100"},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePercent(%q) = %d, %v; want an error saying %q", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatPercentWritesNoTrailingZeros(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{0, "0"}, {1, "0.001"}, {10, "0.01"}, {500, "0.5"}, {12500, "12.5"},
		{33333, "33.333"}, {100000, "100"}, {99999, "99.999"},
	}
	for _, tt := range tests {
		if got := FormatPercent(tt.in); got != tt.want {
			t.Errorf("FormatPercent(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatPercentThenParsePercentIsTheIdentityFromZeroToAHundred(t *testing.T) {
	for w := 0; w <= WeightScale; w++ {
		if got, err := ParsePercent(FormatPercent(w)); err != nil || got != w {
			t.Fatalf("ParsePercent(FormatPercent(%d) = %q) = %d, %v", w, FormatPercent(w), got, err)
		}
	}
}

func TestSplitWeightsReadTheSameFromYAMLAndJSON(t *testing.T) {
	tests := []struct {
		name, yaml, json string
		want             int // -1: invalid, reported by Validate
	}{
		{"an integer", "50", "50", 50000},
		{"a decimal", "12.5", "12.5", 12500},
		{"three decimals", "33.333", "33.333", 33333},
		{"an exponent in JSON", "100", "1e2", 100000},
		{"a fractional exponent in JSON", "12.5", "1.25E1", 12500},
		{"too many decimals", "0.0005", "0.0005", -1},
		{"a tiny exponent in JSON", "0.0001", "1e-4", -1},
		{"a negative number", "-1", "-1", -1},
		{"a string", `"50"`, `"50"`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := mustParse(t, "flags:\n  - key: f\n    environments:\n      p:\n        default: {split: {a: "+tt.yaml+"}}\n")
			j := mustParse(t, `{"flags": [{"key": "f", "environments": {"p": {"default": {"split": {"a": `+tt.json+`}}}}}]}`)
			for name, f := range map[string]*File{"YAML": y, "JSON": j} {
				got := f.Flags[0].Environments["p"].Default.Split[0].Weight
				if got != tt.want {
					t.Errorf("%s weight = %d, want %d", name, got, tt.want)
				}
			}
		})
	}
}

// FuzzParse feeds arbitrary bytes to Parse and Validate. Neither may panic,
// and a file that validates must survive EncodeYAML and EncodeJSON: parsed
// again it validates and equals the original model.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.*"))
		for _, path := range files {
			if strings.HasSuffix(path, ".errors") {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(`{"flags":[{"key":"f","type":"number","variants":{"a":1e2},"environments":{"p":{"enabled":true,"default":{"split":{"a":1e2}}}}}]}`))
	f.Add([]byte("flags:\n- key: f\n  type: object\n  variants: {a: {b: [1, {c: 2}]}, e: {}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil || file.Validate() != nil {
			return
		}
		var y, j bytes.Buffer
		if err := EncodeYAML(&y, file); err != nil {
			t.Fatalf("EncodeYAML of a valid file: %v", err)
		}
		if err := EncodeJSON(&j, file); err != nil {
			t.Fatalf("EncodeJSON of a valid file: %v", err)
		}
		for _, out := range []*bytes.Buffer{&y, &j} {
			again, err := Parse(out.Bytes())
			if err != nil {
				t.Fatalf("Parse of encoded valid file: %v\n%s", err, out.Bytes())
			}
			if err := again.Validate(); err != nil {
				t.Fatalf("encoded valid file no longer validates: %v\n%s", err, out.Bytes())
			}
			if !equalModels(file, again) {
				t.Fatalf("model changed in the round trip:\nbefore: %#v\nafter:  %#v\n%s", file, again, out.Bytes())
			}
		}
	})
}

// equalModels is reflect.DeepEqual except that a nil slice or map equals an
// empty one: files cannot tell them apart (fields are omitted when empty), so
// a round trip may turn one into the other without changing the model.
func equalModels(a, b *File) bool {
	return equalValues(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValues(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalValues(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Float64:
		return a.Float() == b.Float()
	}
	panic("equalValues: unexpected kind " + a.Kind().String())
}

func mustParse(t *testing.T, s string) *File {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return f
}
