// Package benchshapes holds the four flag shapes the evaluation benchmarks
// measure — (a) a boolean flag without rules, (b) one rule `country in [10
// values]` matched by the 7th, (c) a 50/50 split on the targeting key, (d) 20
// rules of 3 clauses (regex, semver, number) with a 10,000-key segment,
// matching the last rule — and their contexts. The evaluation core and the
// SDK benchmark the same shapes from here, so their figures compare.
package benchshapes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weirhq/weir/eval"
)

// Flag keys of the four shapes.
const (
	Simple  = "simple"
	Country = "country"
	Split   = "split"
	Complex = "complex"
)

// Document returns the flags file (YAML) of the four shapes, in the
// environment "production".
func Document() []byte {
	var b strings.Builder
	b.WriteString("environments: [{key: production}]\nsegments:\n  - key: big\n    included: [")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "member-%d", i)
	}
	b.WriteString(`]
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
`)
	for i := 0; i < 19; i++ {
		fmt.Fprintf(&b, `          - when:
              - {attribute: email, op: matches, values: ["^user-%d@corp\\.example$"]}
              - {attribute: version, op: semverGte, values: ["%d.0.0"]}
              - {attribute: age, op: gt, values: [%d]}
            serve: {variant: a}
`, i, i+1, i)
	}
	b.WriteString(`          - id: last
            when:
              - {attribute: email, op: matches, values: ["@example\\.com$"]}
              - {attribute: version, op: semverGte, values: ["2.1.0"]}
              - {op: inSegment, values: [big]}
            serve: {variant: b}
        default: {variant: a}
`)
	return []byte(b.String())
}

// Contexts of the shapes: SimpleContext for (a) (and any static flag),
// CountryContext for (b), ComplexContext for (d); KeyPool for (c).
var (
	SimpleContext  = &eval.Context{TargetingKey: "user-1"}
	CountryContext = &eval.Context{TargetingKey: "user-1", Attributes: map[string]any{"country": "NL"}}
	ComplexContext = &eval.Context{TargetingKey: "member-9999", Attributes: map[string]any{
		"email": "jane@example.com", "version": "2.3.1", "age": 17.0,
	}}
)

// KeyPool returns n contexts with distinct targeting keys, for split
// benchmarks that must not hit one bucket repeatedly.
func KeyPool(n int) []eval.Context {
	pool := make([]eval.Context, n)
	for i := range pool {
		pool[i] = eval.Context{TargetingKey: "user-" + strconv.Itoa(i)}
	}
	return pool
}
