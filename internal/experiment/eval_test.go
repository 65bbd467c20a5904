package experiment

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/plan"
)

// TestTheRulesAStartWritesAreServedAsPlanned evaluates the configuration
// the lifecycle leaves with the evaluation engine: an experiment gets its
// allocation of the units that are not held out, experiments of one layer
// never share a unit, and a stopped experiment serves nobody.
func TestTheRulesAStartWritesAreServedAsPlanned(t *testing.T) {
	w := newWorld(t)                                         // production holds 5% of units out
	w.commit(Create(w.cfg, checkoutFlow(t), at(t0, "plan"))) // 50%, no layer
	w.commit(Create(w.cfg, simple("a", "banner", "web", 40000), at(t0, "plan")))
	w.commit(Create(w.cfg, simple("b", "pricing", "web", 40000), at(t0, "plan")))
	for _, key := range []string{"checkout-flow", "a", "b"} {
		w.commit(Start(w.cfg, key, Traffic{}, at(t0, "go")))
	}
	count := func() map[string]int {
		snaps, err := eval.PrepareAll(plan.FileOf(w.cfg))
		if err != nil {
			t.Fatal(err)
		}
		snap := snaps["production"]
		n := map[string]int{}
		for i := range 20000 {
			ctx := eval.Context{TargetingKey: fmt.Sprintf("user-%d", i)}
			in := 0
			for _, flag := range []string{"checkout", "banner", "pricing"} {
				if r := snap.Evaluate(flag, &ctx); r.Allocation != nil {
					n[r.Allocation.Experiment]++
					if flag != "checkout" {
						in++
					}
				}
			}
			if in > 1 {
				n["both a and b"]++
			}
		}
		return n
	}
	n := count()
	for key, want := range map[string]float64{"checkout-flow": 0.5 * 0.95, "a": 0.4 * 0.95, "b": 0.4 * 0.95} {
		if got := float64(n[key]) / 20000; math.Abs(got-want) > 0.015 {
			t.Errorf("experiment %s serves %.3f of units, want %.3f (its allocation of the units not held out)", key, got, want)
		}
	}
	if n["both a and b"] != 0 {
		t.Errorf("%d units are in both experiments of the layer", n["both a and b"])
	}
	w.commit(Stop(w.cfg, "a", at(t0.Add(time.Hour), "done")))
	if n := count(); n["a"] != 0 || n["b"] == 0 {
		t.Errorf("after stopping a: %v, want none in a and b unchanged", n)
	}
}
