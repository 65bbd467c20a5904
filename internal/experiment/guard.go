package experiment

import (
	"fmt"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/store"
)

// Check reports what a configuration about to be committed by any write
// other than an experiment step (apply, a flag or metric edit, a deletion)
// would break for the experiments in exps:
//
//   - a running experiment needs its flag, the flag's state in its
//     environment, its variants, and its rule exactly as the experiment
//     wrote it: the rule changes only through the experiment (stop, or a
//     new phase), so that what was served is what is recorded;
//   - an experiment that is not archived needs its metrics, which its
//     analysis reads.
//
// merged is the whole configuration after the write. Check returns nil or
// a *flagmodel.ValidationError with one problem per broken reference.
func Check(merged *flagmodel.File, exps []store.Versioned[flagmodel.Experiment]) error {
	flags := make(map[string]*flagmodel.Flag, len(merged.Flags))
	for i := range merged.Flags {
		flags[merged.Flags[i].Key] = &merged.Flags[i]
	}
	metrics := make(map[string]bool, len(merged.Metrics))
	for _, m := range merged.Metrics {
		metrics[m.Key] = true
	}
	var problems []flagmodel.Problem
	add := func(where, format string, args ...any) {
		problems = append(problems, flagmodel.Problem{Where: where, Message: fmt.Sprintf(format, args...)})
	}
	for _, v := range exps {
		e := &v.Value
		status := e.State()
		if status == flagmodel.StatusArchived {
			continue
		}
		for _, m := range e.Metrics.All() {
			if !metrics[m] {
				add(fmt.Sprintf("metric %q", m), "%s experiment %q measures it; archive the experiment before deleting the metric", status, e.Key)
			}
		}
		if status != flagmodel.StatusRunning {
			continue
		}
		fl := flags[e.Flag]
		if fl == nil {
			add(fmt.Sprintf("flag %q", e.Flag), "running experiment %q serves it in %s; stop the experiment before deleting the flag", e.Key, e.Environment)
			continue
		}
		where := fmt.Sprintf("flag %q: environments.%s", e.Flag, e.Environment)
		st := fl.Environments[e.Environment]
		if st == nil {
			add(where, "running experiment %q serves the flag here; stop the experiment before removing this state", e.Key)
			continue
		}
		for _, name := range e.Variants() {
			if _, ok := fl.Variant(name); !ok {
				add(fmt.Sprintf("flag %q: variants", e.Flag), "running experiment %q serves variant %q; stop the experiment before removing it", e.Key, name)
			}
		}
		want := Rule(e)
		var got *flagmodel.Rule
		for i := range st.Rules {
			if st.Rules[i].ID == want.ID {
				got = &st.Rules[i]
			}
		}
		switch {
		case got == nil:
			add(where+".rules", "rule %q serves running experiment %q; stop the experiment to remove it", want.ID, e.Key)
		case !equalJSON(*got, want):
			add(where+".rules", "rule %q is managed by running experiment %q: change the experiment's allocation or weights instead (a new phase), or stop it", want.ID, e.Key)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &flagmodel.ValidationError{Problems: problems}
}
