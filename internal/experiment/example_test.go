package experiment_test

import (
	"fmt"
	"os"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/experiment"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

// Starting an experiment plans one changeset: the experiment, running, and
// the flag's state with the experiment's rule after the flag's own rules.
func ExampleStart() {
	file, _ := flagmodel.Parse([]byte(`
environments: [{key: production}]
flags:
  - key: banner
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: off}}
metrics:
  - {key: clicked, type: conversion, event: banner-click}
`))
	// A real caller loads the configuration from the store and commits
	// each changeset with store.Commit; here each one is applied in memory.
	cfg := &store.Config{}
	p, _ := plan.Compute(cfg, file, plan.Options{})
	cs := p.Changeset("key:alice", "set up", "apply")
	cfg, _ = plan.Apply(cfg, cs, store.Committed{Versions: []int64{1, 1, 1, 1}})

	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	draft := flagmodel.Experiment{
		Key: "banner-test", Environment: "production", Flag: "banner",
		Control: "off", Treatments: []string{"on"}, Allocation: 20000,
		Metrics: flagmodel.ExperimentMetrics{Primary: "clicked"}, Baseline: &flagmodel.Baseline{Rate: 0.02}, MDE: 0.1,
	}
	created, err := experiment.Create(cfg, draft, experiment.Request{Actor: "key:alice", Reason: "banner test", Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, _ = plan.Apply(cfg, created.Changeset, store.Committed{Versions: []int64{1}})

	step, err := experiment.Start(cfg, "banner-test", experiment.Traffic{DailyUnits: 100000}, experiment.Request{Actor: "key:alice", Reason: "go", Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range step.Changeset.Changes {
		fmt.Printf("%s %s %s (from version %d)\n", step.Changeset.Action, c.Kind, c.Key, c.ExpectedVersion)
	}
	e := step.Experiment
	fmt.Println("sample size:", e.SampleSize.Total(), "units; expected duration:", e.ExpectedDuration)
	state := step.Changeset.Changes[1].State
	_ = flagmodel.EncodeYAML(os.Stdout, &flagmodel.File{Flags: []flagmodel.Flag{{Key: "banner", Type: flagmodel.TypeBoolean,
		Variants:     flagmodel.Variants{{Key: "on", Value: true}, {Key: "off", Value: false}},
		Environments: map[string]*flagmodel.FlagState{"production": state}}}})
	// Output:
	// experiment.start experiment banner-test (from version 1)
	// experiment.start flag-state banner (from version 1)
	// sample size: 161358 units; expected duration: 9d
	// flags:
	//   - key: banner
	//     type: boolean
	//     variants: {on: true, off: false}
	//     environments:
	//       production:
	//         enabled: true
	//         rules:
	//           - id: experiment:banner-test
	//             description: experiment banner-test, phase 1
	//             traffic:
	//               seed: banner-test.traffic
	//               from: 0
	//               to: 20000
	//             serve:
	//               split: {off: 50, on: 50}
	//               seed: banner-test.1
	//               experiment: banner-test
	//         default:
	//           variant: "off"
}
