package eval_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// randomFile builds n flags with prerequisite chains, targets, rules and
// splits, the variant names and weights drawn from rng.
func randomFile(t testing.TB, rng *rand.Rand, n int) *flagmodel.File {
	t.Helper()
	var b strings.Builder
	b.WriteString("environments: [{key: production}]\nsegments: [{key: seg, included: [u3], rules: [{when: [{attribute: plan, op: in, values: [pro]}]}]}]\nflags:\n")
	for i := 0; i < n; i++ {
		w := rng.IntN(101)
		fmt.Fprintf(&b, `  - key: f%d
    type: string
    variants: {a: A%d, b: B, c: C}
    environments:
      production:
        enabled: %v
        offVariant: c
        targets: {b: [u%d]}
`, i, rng.IntN(3), rng.IntN(10) > 0, rng.IntN(8))
		if i > 0 && rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "        prerequisites: [{flag: f%d, variants: [a, b]}]\n", rng.IntN(i))
		}
		fmt.Fprintf(&b, `        rules:
          - when: [{op: inSegment, values: [seg]}]
            serve: {variant: b}
          - when: [{attribute: version, op: semverGte, values: ["%d.0.0"]}]
            serve: {split: {a: %d, b: %d}}
        default: {variant: a}
`, rng.IntN(4), w, 100-w)
	}
	f, err := flagmodel.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUpdateGivesTheSameResultsAsAFreshPrepare(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	contexts := []eval.Context{}
	for i := 0; i < 40; i++ {
		contexts = append(contexts, eval.NewContext(map[string]any{
			"targetingKey": fmt.Sprintf("u%d", i%9), "plan": []string{"free", "pro"}[i%2], "version": fmt.Sprintf("%d.1.0", i%5)}))
	}
	for round := 0; round < 100; round++ {
		before := randomFile(t, rng, 30)
		snap, err := eval.Prepare(before, "production")
		if err != nil {
			t.Fatal(err)
		}
		// Change a few flags (regenerate them), drop one, add one.
		after := randomFile(t, rng, 30)
		changed := map[string]*flagmodel.Flag{}
		for i := range after.Flags {
			if rng.IntN(5) == 0 {
				changed[after.Flags[i].Key] = &after.Flags[i]
			} else {
				after.Flags[i] = before.Flags[i]
			}
		}
		// Remove one flag that nothing depends on, when there is one.
		if rng.IntN(2) == 0 {
			last := after.Flags[len(after.Flags)-1]
			if !dependedOn(after, last.Key) {
				after.Flags = after.Flags[:len(after.Flags)-1]
				changed[last.Key] = nil
			}
		}
		compiled, err := after.ValidateCompiled()
		if err != nil {
			continue // a random prerequisite change may form an invalid file
		}
		updated, err := snap.Update(changed, compiled)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := eval.Prepare(after, "production")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(updated.Keys(), fresh.Keys()) {
			t.Fatalf("keys differ")
		}
		for _, k := range fresh.Keys() {
			if links := eval.PrerequisiteLinks(updated, k); strings.Contains(links, "stale") {
				t.Fatalf("round %d, flag %s: prerequisite links %s", round, k, links)
			}
			for i := range contexts {
				if got, want := updated.Evaluate(k, &contexts[i]), fresh.Evaluate(k, &contexts[i]); !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d, flag %s, context %d: Update gives %+v, Prepare %+v (changed %v)", round, k, i, got, want, changed)
				}
			}
		}
		// The old snapshot still serves the old configuration.
		old, _ := eval.Prepare(before, "production")
		for _, k := range old.Keys() {
			if got, want := snap.Evaluate(k, &contexts[0]), old.Evaluate(k, &contexts[0]); !reflect.DeepEqual(got, want) {
				t.Fatalf("Update disturbed the original snapshot: %s", k)
			}
		}
	}
}

func BenchmarkUpdateOneFlagOf10000(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := randomFile(b, rng, 10000)
	snap, err := eval.Prepare(f, "production")
	if err != nil {
		b.Fatal(err)
	}
	c, err := f.ValidateCompiled()
	if err != nil {
		b.Fatal(err)
	}
	changed := map[string]*flagmodel.Flag{"f5000": &f.Flags[5000]}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := snap.Update(changed, c); err != nil {
			b.Fatal(err)
		}
	}
}

func dependedOn(f *flagmodel.File, key string) bool {
	for _, fl := range f.Flags {
		for _, st := range fl.Environments {
			for _, p := range st.Prerequisites {
				if p.Flag == key {
					return true
				}
			}
		}
	}
	return false
}
