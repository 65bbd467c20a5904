package eval_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

func mustPrepare(t testing.TB, doc, env string) *eval.Snapshot {
	t.Helper()
	f, err := flagmodel.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eval.Prepare(f, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The bucketing vectors were computed by testdata/gen_bucket_vectors.py with
// the reference xxHash library; docs/bucketing.md lists the same values.
// If this test fails, users are being reshuffled: do not update the vectors.
func TestBucketMatchesThePublishedVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bucketing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Seed, Value string
		Bucket      uint32
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors) < 10 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, v := range vectors {
		if got := eval.Bucket(v.Seed, v.Value); got != v.Bucket {
			t.Errorf("Bucket(%q, %q) = %d, want %d", v.Seed, v.Value, got, v.Bucket)
		}
	}
}

func TestBucketingIsDocumentedWithTheSameVectors(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "bucketing.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"| `new-checkout` | `user-1` | 86310 |",
		"| `new-checkout` | `user-2` | 21068 |",
	} {
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/bucketing.md lacks the vector row %s", line)
		}
	}
}

// chiSquare returns Pearson's statistic for observed counts against expected
// proportions.
func chiSquare(observed []int, expected []float64, total int) float64 {
	var x2 float64
	for i, o := range observed {
		e := expected[i] * float64(total)
		d := float64(o) - e
		x2 += d * d / e
	}
	return x2
}

func TestSplitProportionsFollowTheWeightsOverAMillionKeys(t *testing.T) {
	s := mustPrepare(t, `
flags:
  - key: three-way
    type: string
    variants: {a: A, b: B, c: C}
    environments:
      production: {enabled: true, default: {split: {a: 12.5, b: 33.333, c: 54.167}}}
`, "production")
	const n = 1_000_000
	counts := map[string]int{}
	ctx := eval.Context{}
	for i := 0; i < n; i++ {
		ctx.TargetingKey = "user-" + strconv.Itoa(i)
		counts[s.Evaluate("three-way", &ctx).Variant]++
	}
	obs := []int{counts["a"], counts["b"], counts["c"]}
	x2 := chiSquare(obs, []float64{0.125, 0.33333, 0.54167}, n)
	// Critical value of chi-square with 2 degrees of freedom at p = 0.001.
	if x2 > 13.816 {
		t.Errorf("split counts %v deviate from the weights: chi-square %.2f > 13.816", obs, x2)
	}
	t.Logf("counts %v, chi-square %.3f (df 2)", obs, x2)
}

func TestFlagsWithDifferentSeedsAssignIndependently(t *testing.T) {
	s := mustPrepare(t, `
flags:
  - key: first
    type: boolean
    variants: {on: true, off: false}
    environments: {production: {enabled: true, default: {split: {on: 50, off: 50}}}}
  - key: second
    type: boolean
    variants: {on: true, off: false}
    environments: {production: {enabled: true, default: {split: {on: 50, off: 50}}}}
`, "production")
	const n = 1_000_000
	var table [2][2]int
	ctx := eval.Context{}
	for i := 0; i < n; i++ {
		ctx.TargetingKey = "user-" + strconv.Itoa(i)
		a := s.Evaluate("first", &ctx).Value.(bool)
		b := s.Evaluate("second", &ctx).Value.(bool)
		table[b2i(a)][b2i(b)]++
	}
	// Chi-square test of independence on the 2×2 table.
	var x2 float64
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			row := float64(table[i][0] + table[i][1])
			col := float64(table[0][j] + table[1][j])
			e := row * col / n
			d := float64(table[i][j]) - e
			x2 += d * d / e
		}
	}
	// Critical value with 1 degree of freedom at p = 0.001.
	if x2 > 10.828 {
		t.Errorf("assignments of two seeds are correlated: table %v, chi-square %.2f > 10.828", table, x2)
	}
	t.Logf("table %v, chi-square %.3f (df 1)", table, x2)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBucketsAreUniformOverAHundredBins(t *testing.T) {
	const n = 1_000_000
	obs := make([]int, 100)
	exp := make([]float64, 100)
	for i := range exp {
		exp[i] = 0.01
	}
	for i := 0; i < n; i++ {
		b := eval.Bucket("uniformity", "unit-"+strconv.Itoa(i))
		if b >= flagmodel.WeightScale {
			t.Fatalf("bucket %d out of range", b)
		}
		obs[b/1000]++
	}
	x2 := chiSquare(obs, exp, n)
	// Critical value with 99 degrees of freedom at p = 0.001.
	if x2 > 148.23 {
		t.Errorf("buckets are not uniform: chi-square %.2f > 148.23", x2)
	}
	t.Logf("chi-square %.3f (df 99)", x2)
}

func TestEvaluateAsReportsTypeMismatch(t *testing.T) {
	s := mustPrepare(t, `
flags:
  - key: color
    type: string
    variants: {red: "#f00"}
    environments: {production: {enabled: true, default: {variant: red}}}
`, "production")
	r := s.EvaluateAs("color", flagmodel.TypeBoolean, &eval.Context{TargetingKey: "u"})
	if r.Reason != eval.ReasonError || r.ErrorCode != eval.ErrorTypeMismatch || r.Value != nil {
		t.Errorf("EvaluateAs(boolean) on a string flag = %+v, want TYPE_MISMATCH and no value", r)
	}
	if !strings.Contains(r.ErrorMessage, "string") {
		t.Errorf("message %q does not name the flag's type", r.ErrorMessage)
	}
	if r := s.EvaluateAs("color", flagmodel.TypeString, nil); r.Variant != "red" {
		t.Errorf("EvaluateAs(string) = %+v", r)
	}
	if r := s.EvaluateAs("nope", flagmodel.TypeString, nil); r.ErrorCode != eval.ErrorFlagNotFound {
		t.Errorf("EvaluateAs on a missing flag = %+v", r)
	}
}

func TestANilContextIsAnEmptyContext(t *testing.T) {
	s := mustPrepare(t, `
flags:
  - key: split
    type: boolean
    variants: {on: true, off: false}
    environments: {production: {enabled: true, default: {split: {on: 50, off: 50}}}}
`, "production")
	if r := s.Evaluate("split", nil); r.ErrorCode != eval.ErrorTargetingKeyMissing {
		t.Errorf("got %+v", r)
	}
}

func TestExplainSaysWhichClauseFailedAndWhy(t *testing.T) {
	s := mustPrepare(t, `
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        rules:
          - id: staff
            when:
              - {attribute: email, op: endsWith, values: ["@example.com"]}
              - {attribute: country, op: in, values: [DE, FR], negate: true}
            serve: {variant: on}
        default: {variant: off}
`, "production")
	ctx := eval.NewContext(map[string]any{"targetingKey": "u", "email": "a@example.com", "country": "DE"})
	r, tr := s.Explain("checkout", &ctx)
	if r.Variant != "off" {
		t.Fatalf("variant %q", r.Variant)
	}
	text := tr.String()
	for _, want := range []string{
		`email endsWith ["@example.com"]: matched`,
		`country not in ["DE", "FR"]: no match`,
		"rule staff: no match",
		"default: served",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("trace lacks %q:\n%s", want, text)
		}
	}
}

func TestPrepareRejectsAnInvalidFileWithEveryProblem(t *testing.T) {
	f, err := flagmodel.Parse([]byte(`
flags:
  - key: a
    type: boolean
    variants: {on: true}
    environments: {production: {enabled: true, default: {variant: of}, rules: [{when: [{attribute: x, op: startwith, values: [y]}], serve: {variant: on}}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = eval.Prepare(f, "production")
	var ve *flagmodel.ValidationError
	if !errorsAs(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want a ValidationError with 2 problems, got %v", err)
	}
}

func errorsAs(err error, target **flagmodel.ValidationError) bool {
	ve, ok := err.(*flagmodel.ValidationError)
	if ok {
		*target = ve
	}
	return ok
}

func TestConcurrentEvaluationIsSafe(t *testing.T) {
	s := benchSnapshot(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				ctx := eval.Context{TargetingKey: "member-" + strconv.Itoa(i), Attributes: map[string]any{
					"email": "x@example.com", "version": "2.2.0", "country": "DE"}}
				for _, k := range []string{"simple", "country", "split", "complex"} {
					if r := s.Evaluate(k, &ctx); r.IsError() {
						t.Errorf("%s: %+v", k, r)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkPrepare10000Flags(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("environments: [{key: production}]\nflags:\n")
	for i := 0; i < 10000; i++ {
		sb.WriteString(`  - key: flag-` + strconv.Itoa(i) + `
    type: string
    variants: {a: A, b: B, c: C}
    environments:
      production:
        enabled: true
        targets: {a: [u1, u2, u3]}
        rules:
          - when: [{attribute: country, op: in, values: [DE, FR, NL]}, {attribute: email, op: matches, values: ["@corp-` + strconv.Itoa(i%1000) + `\\.example$"]}]
            serve: {variant: b}
          - when: [{attribute: version, op: semverGte, values: ["2.1.0"]}]
            serve: {split: {a: 33.333, b: 33.333, c: 33.334}}
        default: {variant: c}
`)
	}
	f, err := flagmodel.Parse([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eval.Prepare(f, "production"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestATypeMismatchDoesNotAllocate(t *testing.T) {
	s := benchSnapshot(t)
	if n := testing.AllocsPerRun(100, func() { sink = s.EvaluateAs("simple", flagmodel.TypeString, ctxSimple) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestExperimentsOfALayerNeverShareAUnitAndTheHoldoutKeepsItsShare(t *testing.T) {
	s := mustPrepare(t, `
environments:
  - key: production
    holdout: {weight: 5000}
flags:
  - key: search
    type: boolean
    variants: {off: false, on: true}
    environments:
      production:
        enabled: true
        rules:
          - traffic: {seed: layer-1, from: 0, to: 30000}
            serve: {split: {off: 50, on: 50}, seed: search.1, experiment: search}
        default: {variant: off}
  - key: ranking
    type: boolean
    variants: {off: false, on: true}
    environments:
      production:
        enabled: true
        rules:
          - traffic: {seed: layer-1, from: 30000, to: 50000}
            serve: {split: {off: 50, on: 50}, seed: ranking.1, experiment: ranking}
        default: {variant: off}
`, "production")
	const n = 200_000
	var inSearch, inRanking, inBoth, inNeither int
	ctx := eval.Context{}
	for i := 0; i < n; i++ {
		ctx.TargetingKey = "user-" + strconv.Itoa(i)
		a := s.Evaluate("search", &ctx).Allocation != nil
		b := s.Evaluate("ranking", &ctx).Allocation != nil
		switch {
		case a && b:
			inBoth++
		case a:
			inSearch++
		case b:
			inRanking++
		default:
			inNeither++
		}
	}
	if inBoth != 0 {
		t.Fatalf("%d units are in two experiments of one layer", inBoth)
	}
	// Expected shares: 95% not held out × 30% / 20% / 50%.
	x2 := chiSquare([]int{inSearch, inRanking, inNeither}, []float64{0.95 * 0.3, 0.95 * 0.2, 1 - 0.95*0.5}, n)
	if x2 > 13.816 { // chi-square, 2 degrees of freedom, p = 0.001
		t.Errorf("layer shares %d/%d/%d deviate: chi-square %.2f > 13.816", inSearch, inRanking, inNeither, x2)
	}
	t.Logf("search %d, ranking %d, neither %d, chi-square %.3f", inSearch, inRanking, inNeither, x2)
}

func TestExplainShowsTrafficAndHoldoutDecisions(t *testing.T) {
	s := mustPrepare(t, `
environments:
  - key: production
    holdout: {weight: 10000}
flags:
  - key: f
    type: boolean
    variants: {off: false, on: true}
    environments:
      production:
        enabled: true
        rules:
          - id: exp
            traffic: {seed: checkout-layer, from: 0, to: 50000}
            serve: {split: {off: 50, on: 50}, experiment: e}
        default: {variant: off}
`, "production")
	// user-1: layer bucket 1721 (admitted), holdout bucket 9794 (held out).
	res, trace := s.Explain("f", &eval.Context{TargetingKey: "user-1"})
	if res.Variant != "off" || res.Allocation != nil {
		t.Fatalf("result = %+v, want off without allocation", res)
	}
	got := trace.String()
	for _, want := range []string{"admitted", "bucket 1721 is in [0, 50000)", "held out", "bucket 9794 is below 10000"} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}
