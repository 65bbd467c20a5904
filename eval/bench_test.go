package eval_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// The four flag shapes of the evaluation-core benchmarks. The SDK benchmarks
// reuse them through BenchShapes so both measure the same thing.

func benchFile(tb testing.TB) *flagmodel.File {
	tb.Helper()
	var b []byte
	b = append(b, `
environments: [{key: production}]
segments:
  - key: big
    included: [`...)
	for i := 0; i < 10000; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, fmt.Sprintf("member-%d", i)...)
	}
	b = append(b, `]
flags:
  - key: simple
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: on}}
  - key: country
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        rules:
          - id: countries
            when: [{attribute: country, op: in, values: [US, CA, GB, FR, DE, ES, IT, NL, BE, SE]}]
            serve: {variant: on}
        default: {variant: off}
  - key: split
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        default: {split: {on: 50, off: 50}}
  - key: complex
    type: string
    variants: {a: "A", b: "B"}
    environments:
      production:
        enabled: true
        rules:
`...)
	for i := 0; i < 19; i++ {
		b = append(b, fmt.Sprintf(`          - when:
              - {attribute: email, op: matches, values: ["^user-%d@corp\\.example$"]}
              - {attribute: version, op: semverGte, values: ["%d.0.0"]}
              - {attribute: age, op: gt, values: [%d]}
            serve: {variant: a}
`, i, i+1, i)...)
	}
	b = append(b, `          - id: last
            when:
              - {attribute: email, op: matches, values: ["@example\\.com$"]}
              - {attribute: version, op: semverGte, values: ["2.1.0"]}
              - {op: inSegment, values: [big]}
            serve: {variant: b}
        default: {variant: a}
`...)
	f, err := flagmodel.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func benchSnapshot(tb testing.TB) *eval.Snapshot {
	tb.Helper()
	s, err := eval.Prepare(benchFile(tb), "production")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func keyPool(n int) []eval.Context {
	pool := make([]eval.Context, n)
	for i := range pool {
		pool[i] = eval.Context{TargetingKey: "user-" + strconv.Itoa(i)}
	}
	return pool
}

var (
	ctxSimple  = &eval.Context{TargetingKey: "user-1"}
	ctxCountry = &eval.Context{TargetingKey: "user-1", Attributes: map[string]any{"country": "NL"}}
	ctxComplex = &eval.Context{TargetingKey: "member-9999", Attributes: map[string]any{
		"email": "jane@example.com", "version": "2.3.1", "age": 17.0,
	}}
)

var sink eval.Result

func BenchmarkEvaluate(b *testing.B) {
	s := benchSnapshot(b)
	b.Run("a_boolean_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("simple", ctxSimple)
		}
	})
	b.Run("b_in_10_values_7th", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("country", ctxCountry)
		}
	})
	b.Run("c_split_50_50", func(b *testing.B) {
		pool := keyPool(100000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sink = s.Evaluate("split", &pool[i])
			i++
			if i == len(pool) {
				i = 0
			}
		}
	})
	b.Run("d_20_rules_segment_10k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = s.Evaluate("complex", ctxComplex)
		}
	})
}

func TestBenchmarkShapesServeTheExpectedVariants(t *testing.T) {
	s := benchSnapshot(t)
	if r := s.Evaluate("simple", ctxSimple); r.Variant != "on" || r.Reason != eval.ReasonStatic {
		t.Errorf("simple: %+v", r)
	}
	if r := s.Evaluate("country", ctxCountry); r.Variant != "on" || r.Reason != eval.ReasonTargetingMatch {
		t.Errorf("country: %+v", r)
	}
	if r := s.Evaluate("split", ctxSimple); r.Reason != eval.ReasonSplit {
		t.Errorf("split: %+v", r)
	}
	if r := s.Evaluate("complex", ctxComplex); r.Variant != "b" || r.RuleID != "last" {
		t.Errorf("complex: %+v", r)
	}
}

func TestEvaluationOfTheBenchmarkShapesDoesNotAllocate(t *testing.T) {
	s := benchSnapshot(t)
	pool := keyPool(1000)
	i := 0
	cases := map[string]func(){
		"boolean no rules": func() { sink = s.Evaluate("simple", ctxSimple) },
		"in list":          func() { sink = s.Evaluate("country", ctxCountry) },
		"split": func() {
			sink = s.Evaluate("split", &pool[i%len(pool)])
			i++
		},
		"20 rules with regex, semver, numbers and a segment": func() { sink = s.Evaluate("complex", ctxComplex) },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(1000, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, allocs)
		}
	}
}
