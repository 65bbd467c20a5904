package eval_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// serverShapeFile returns n flags of every value type, each configured in
// production only (targets, two rules, a default split), in three
// environments: the configuration the server's idle-memory figures load.
func serverShapeFile(tb testing.TB, n int) *flagmodel.File {
	tb.Helper()
	var b strings.Builder
	b.WriteString("environments: [{key: development}, {key: staging}, {key: production}]\nflags:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - key: flag-%05d\n", i)
		switch i % 4 {
		case 0, 2:
			b.WriteString("    type: boolean\n    variants: {on: true, off: false}\n")
		case 1:
			b.WriteString("    type: string\n    variants: {on: \"green\", off: \"blue\"}\n")
		case 3:
			b.WriteString("    type: number\n    variants: {on: 10, off: 2.5}\n")
		}
		b.WriteString(`    environments:
      production:
        enabled: true
        offVariant: off
        targets: {on: [user-1, user-2, user-3]}
        rules:
          - id: beta
            when: [{attribute: email, op: endsWith, values: ["@example.com"]}]
            serve: {variant: on}
          - id: dutch-pros
            when:
              - {attribute: country, op: in, values: [NL, BE]}
              - {attribute: plan, op: in, values: [pro, enterprise]}
            serve: {variant: on}
        default: {split: {on: 20, off: 80}}
`)
	}
	f, err := flagmodel.Parse([]byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// heapAfterGC returns the bytes of live heap objects.
func heapAfterGC() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A prepared flag keeps its rules and clauses, not a copy of every result
// it could serve, and a flag without a state in an environment costs little
// more than its map entry. The bounds are about twice what was measured, so
// only a return to per-flag results or per-environment copies fails.
func TestPreparedSnapshotsStaySmall(t *testing.T) {
	const n = 4000
	f := serverShapeFile(t, n)
	before := heapAfterGC()
	all, err := eval.PrepareAll(f)
	if err != nil {
		t.Fatal(err)
	}
	perFlag := float64(heapAfterGC()-before) / n
	t.Logf("three environments: %.0f bytes per flag", perFlag)
	if perFlag > 2200 {
		t.Errorf("three environments, one configured: %.0f bytes per flag retained, want at most 2200", perFlag)
	}

	before = heapAfterGC()
	dev, err := eval.Prepare(f, "development")
	if err != nil {
		t.Fatal(err)
	}
	perFlag = float64(heapAfterGC()-before) / n
	t.Logf("no flag states: %.0f bytes per flag", perFlag)
	if perFlag > 150 {
		t.Errorf("an environment without flag states: %.0f bytes per flag retained, want at most 150", perFlag)
	}
	runtime.KeepAlive(all)
	runtime.KeepAlive(dev)
	runtime.KeepAlive(f)
}
