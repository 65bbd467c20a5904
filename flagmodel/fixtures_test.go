package flagmodel

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/invalid/*.errors files")

func TestValidFixturesParseAndValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "valid", "*"))
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/valid")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := parseFile(t, path)
			if err := f.Validate(); err != nil {
				t.Errorf("Validate:\n%v", err)
			}
		})
	}
}

func TestFullFixtureReadsAsDeclared(t *testing.T) {
	f := parseFile(t, filepath.Join("testdata", "valid", "full.yaml"))
	if got := len(f.Flags); got != 5 {
		t.Fatalf("got %d flags, want 5", got)
	}
	dark := f.Flags[0]
	if got := variantNames(&dark); !reflect.DeepEqual(got, []string{"off", "on"}) {
		t.Errorf("variants in order %v, want [off on]: declared order is kept", got)
	}
	if v, _ := dark.Variant("on"); v.Value != true {
		t.Errorf("variant on = %#v, want true: on/off are names, their values come from the file", v.Value)
	}
	prod := dark.Environments["production"]
	if got := prod.Targets; !reflect.DeepEqual(got, Targets{{"on", []string{"user-9", "user-8"}}, {"off", []string{"user-7"}}}) {
		t.Errorf("targets = %+v, want declared order", got)
	}
	split := prod.Rules[1].Serve
	if !split.IsSplit() || !reflect.DeepEqual(split.Split, Weights{{Variant: "on", Weight: 12500}, {Variant: "off", Weight: 87500}}) {
		t.Errorf("split = %+v, want on 12500 then off 87500", split.Split)
	}
	checkout := f.Flags[1].Environments["production"].Default.Split
	if want := (Weights{{Variant: "treatment-b", Weight: 33333}, {Variant: "control", Weight: 33334}, {Variant: "treatment-a", Weight: 33333}}); !reflect.DeepEqual(checkout, want) {
		t.Errorf("split = %+v, want %+v", checkout, want)
	}
	in := f.Flags[1].Environments["production"].Rules[0].When[0].Values
	if want := []any{"NL", "BE", float64(31), true}; !reflect.DeepEqual(in, want) {
		t.Errorf("in values = %#v, want %#v: numbers are float64 whatever the format", in, want)
	}
	semver := f.Flags[2].Environments["production"].Rules[1].When[0].Values
	if want := []any{"1.10"}; !reflect.DeepEqual(semver, want) {
		t.Errorf("quoted version = %#v, want %#v", semver, want)
	}
	classic, _ := f.Flags[4].Variant("classic")
	want := map[string]any{"colour": "blue", "sizes": []any{1.0, 2.0, 3.0}, "nested": map[string]any{"deep": true}}
	if !reflect.DeepEqual(classic.Value, want) {
		t.Errorf("object variant = %#v, want %#v", classic.Value, want)
	}
}

func TestJSONFixtureParsesToTheSameModelAsItsYAMLTwin(t *testing.T) {
	fromYAML := parseFile(t, filepath.Join("testdata", "valid", "full.yaml"))
	fromJSON := parseFile(t, filepath.Join("testdata", "valid", "full.json"))
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("full.yaml and full.json differ:\nYAML: %+v\nJSON: %+v", fromYAML, fromJSON)
	}
}

// TestInvalidFixturesReportEveryProblem reads each testdata/invalid/*.yaml,
// which parses but breaks many rules, and compares the problems Validate
// reports, in order, with the golden *.errors file next to it. Run
// `go test ./flagmodel -run TestInvalidFixtures -update` to rewrite them.
func TestInvalidFixturesReportEveryProblem(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/invalid")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got := problemLines(t, parseFile(t, path))
			golden := strings.TrimSuffix(path, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems differ from %s (run with -update to accept):\n%s", golden, lineDiff(want, got))
			}
		})
	}
}

// TestValidateNamesTheUnknownOperatorAsDocumented pins the example in the
// package documentation to real output.
func TestValidateNamesTheUnknownOperatorAsDocumented(t *testing.T) {
	const want = `flags[3] "new-checkout": environments.production.rules[1].when[0].op: unknown operator "startwith" (did you mean "startsWith"?)`
	got := problemLines(t, parseFile(t, filepath.Join("testdata", "invalid", "operators.yaml")))
	for _, line := range got {
		if line == want {
			return
		}
	}
	t.Errorf("no problem line\n\t%s\nin\n\t%s", want, strings.Join(got, "\n\t"))
}

// TestValidateEnforcesListLimits builds, for each limit, a file exactly at
// the limit (valid) and one just above it (one problem). They are built here
// rather than committed because some hold a million keys.
func TestValidateEnforcesListLimits(t *testing.T) {
	// flagFile is a valid file with one enabled flag; mut fills its state.
	flagFile := func(mut func(st *FlagState)) *File {
		fl := boolFlag("f")
		st := &FlagState{Enabled: true, Default: &Serve{Variant: "on"}}
		fl.Environments = map[string]*FlagState{"production": st}
		mut(st)
		return &File{Flags: []Flag{fl}}
	}
	ruleWith := func(clauses func(n int) []Clause) func(int) *File {
		return func(n int) *File {
			return flagFile(func(st *FlagState) {
				st.Rules = []Rule{{When: clauses(n), Serve: Serve{Variant: "on"}}}
			})
		}
	}
	tests := []struct {
		name  string
		limit int
		build func(n int) *File
		want  string
	}{
		{"flags", MaxFlags, func(n int) *File {
			f := &File{Flags: make([]Flag, n)}
			for i := range f.Flags {
				f.Flags[i] = boolFlag("f" + itoa(i))
			}
			return f
		}, "flags: 100001 flags, above the limit of 100000"},
		{"segments", MaxSegments, func(n int) *File {
			f := &File{Segments: make([]Segment, n)}
			for i := range f.Segments {
				f.Segments[i] = Segment{Key: "s" + itoa(i)}
			}
			return f
		}, "segments: 10001 segments, above the limit of 10000"},
		{"segment included keys", MaxSegmentKeys, func(n int) *File {
			return &File{Segments: []Segment{{Key: "s", Included: keys(n)}}}
		}, `segments[0] "s": included: 1000001 keys, above the limit of 1000000`},
		{"segment excluded keys", MaxSegmentKeys, func(n int) *File {
			return &File{Segments: []Segment{{Key: "s", Excluded: keys(n)}}}
		}, `segments[0] "s": excluded: 1000001 keys, above the limit of 1000000`},
		{"segment rules", MaxRules, func(n int) *File {
			s := Segment{Key: "s", Rules: make([]SegmentRule, n)}
			for i := range s.Rules {
				s.Rules[i] = SegmentRule{When: []Clause{{Attribute: "a", Op: OpExists}}}
			}
			return &File{Segments: []Segment{s}}
		}, `segments[0] "s": rules: 1001 rules, above the limit of 1000`},
		{"variants", MaxVariants, func(n int) *File {
			fl := Flag{Key: "f", Type: TypeNumber}
			for i := range n {
				fl.Variants = append(fl.Variants, Variant{Key: "v" + itoa(i), Value: float64(i)})
			}
			return &File{Flags: []Flag{fl}}
		}, `flags[0] "f": variants: 101 variants, above the limit of 100`},
		{"target keys across variants", MaxTargetKeys, func(n int) *File {
			return flagFile(func(st *FlagState) {
				all := keys(n)
				st.Targets = Targets{{"on", all[:n/2]}, {"off", all[n/2:]}}
			})
		}, `flags[0] "f": environments.production.targets: 100001 keys, above the limit of 100000`},
		{"flag rules", MaxRules, func(n int) *File {
			return flagFile(func(st *FlagState) {
				st.Rules = make([]Rule, n)
				for i := range st.Rules {
					st.Rules[i] = Rule{Serve: Serve{Variant: "on"}}
				}
			})
		}, `flags[0] "f": environments.production.rules: 1001 rules, above the limit of 1000`},
		{"prerequisites", MaxPrerequisites, func(n int) *File {
			f := flagFile(func(st *FlagState) {
				for range n {
					st.Prerequisites = append(st.Prerequisites, Prerequisite{Flag: "g", Variants: []string{"on"}})
				}
			})
			f.Flags = append(f.Flags, boolFlag("g"))
			return f
		}, `flags[0] "f": environments.production.prerequisites: 21 prerequisites, above the limit of 20`},
		{"clauses", MaxClauses, ruleWith(func(n int) []Clause {
			cs := make([]Clause, n)
			for i := range cs {
				cs[i] = Clause{Attribute: "a", Op: OpExists}
			}
			return cs
		}), `flags[0] "f": environments.production.rules[0].when: 101 clauses, above the limit of 100`},
		{"clause values", MaxClauseValues, ruleWith(func(n int) []Clause {
			vals := make([]any, n)
			for i := range vals {
				vals[i] = float64(i)
			}
			return []Clause{{Attribute: "a", Op: OpIn, Values: vals}}
		}), `flags[0] "f": environments.production.rules[0].when[0].values: 10001 values, above the limit of 10000`},
		{"clause string value length", MaxStringLength, ruleWith(func(n int) []Clause {
			return []Clause{{Attribute: "a", Op: OpIn, Values: []any{strings.Repeat("x", n)}}}
		}), `flags[0] "f": environments.production.rules[0].when[0].values[0]: value is 4097 characters long, above the limit of 4096`},
		{"attribute name length", MaxKeyLength, ruleWith(func(n int) []Clause {
			return []Clause{{Attribute: strings.Repeat("a", n), Op: OpExists}}
		}), `flags[0] "f": environments.production.rules[0].when[0].attribute: attribute name is 129 characters long, above the limit of 128`},
		{"regular expression length", MaxRegexLength, ruleWith(func(n int) []Clause {
			return []Clause{{Attribute: "a", Op: OpMatches, Values: []any{strings.Repeat("a", n)}}}
		}), `flags[0] "f": environments.production.rules[0].when[0].values[0]: regular expression is 1025 characters long, above the limit of 1024`},
		{"flag key length", MaxKeyLength, func(n int) *File {
			return &File{Flags: []Flag{boolFlag(strings.Repeat("k", n))}}
		}, `flags[0] "` + strings.Repeat("k", 129) + `": key: flag key is 129 characters long, above the limit of 128`},
		{"flag description length", MaxDescriptionLen, func(n int) *File {
			fl := boolFlag("f")
			fl.Description = strings.Repeat("d", n)
			return &File{Flags: []Flag{fl}}
		}, `flags[0] "f": description: 10001 characters, above the limit of 10000`},
		{"segment description length", MaxDescriptionLen, func(n int) *File {
			return &File{Segments: []Segment{{Key: "s", Description: strings.Repeat("d", n)}}}
		}, `segments[0] "s": description: 10001 characters, above the limit of 10000`},
		{"split seed length", MaxStringLength, func(n int) *File {
			return flagFile(func(st *FlagState) {
				st.Default = &Serve{Split: Weights{{Variant: "on", Weight: WeightScale}}, Seed: strings.Repeat("s", n)}
			})
		}, `flags[0] "f": environments.production.default.seed: seed is 4097 characters long, above the limit of 4096`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.build(tt.limit).Validate(); err != nil {
				t.Errorf("at the limit of %d, Validate:\n%v", tt.limit, err)
			}
			got := problemLines(t, tt.build(tt.limit+1))
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("one above the limit, problems:\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), tt.want)
			}
		})
	}
}

func TestValidateRejectsAStringVariantAbove64KiB(t *testing.T) {
	fl := Flag{Key: "f", Type: TypeString, Variants: Variants{{"ok", strings.Repeat("x", 64<<10)}, {"big", strings.Repeat("x", 64<<10+1)}}}
	got := problemLines(t, &File{Flags: []Flag{fl}})
	want := []string{`flags[0] "f": variants.big: string value is longer than 64 KiB`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

func boolFlag(key string) Flag {
	return Flag{Key: key, Type: TypeBoolean, Variants: Variants{{"on", true}, {"off", false}}}
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "user-" + itoa(i)
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func parseFile(t *testing.T, path string) *File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse %s: %v", path, err)
	}
	return f
}

// problemLines validates f, which must be invalid, and returns its problems.
func problemLines(t *testing.T, f *File) []string {
	t.Helper()
	err := f.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a *ValidationError", err)
	}
	if len(ve.Problems) == 0 {
		t.Fatal("ValidationError with no problems")
	}
	lines := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		lines[i] = p.String()
	}
	if got := ve.Error(); got != strings.Join(lines, "\n") {
		t.Errorf("Error() = %q, want the problems one per line", got)
	}
	return lines
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got []string) string {
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	var b strings.Builder
	for _, l := range want {
		if count[l] > 0 {
			count[l]--
			continue
		}
		b.WriteString("- " + l + "\n")
	}
	for _, l := range got {
		if count[l] > 0 {
			count[l]--
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order)"
	}
	return b.String()
}
