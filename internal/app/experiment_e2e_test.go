package app

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/analysis"
	"github.com/weirhq/weir/sdk"
)

// experimentConfig is the flags file of the end-to-end experiment test:
// two flags, each to be tested by an experiment, and the metric both
// experiments measure.
const experimentConfig = `
environments:
  - key: production
metrics:
  - key: purchase-rate
    type: conversion
    event: purchase
flags:
  - key: checkout
    type: boolean
    variants: {off: false, on: true}
    environments:
      production: {enabled: true, default: {variant: off}}
  - key: banner
    type: boolean
    variants: {off: false, on: true}
    environments:
      production: {enabled: true, default: {variant: off}}
`

// TestAnExperimentRunsEndToEndFromSDKTrafficToResults drives the whole
// path: an experiment is created and started through the admin API; an
// application using the Go SDK evaluates the flag for 6,000 users (each
// evaluation served by the experiment records an exposure) and tracks
// purchases with a planted effect (10% of control users buy, 15% of
// treatment users); the SDK delivers the events to the intake; the results
// endpoint then shows the effect. A second experiment's application loses
// the exposures of a third of its treatment users, as a broken logging path
// would, and its results flag the sample-ratio mismatch.
func TestAnExperimentRunsEndToEndFromSDKTrafficToResults(t *testing.T) {
	ctx := context.Background()
	live := startLive(t, "the-experiment-test")
	base, sdkKey, admin := live.base, live.sdkKey, live.admin
	admin("POST", "/api/v1/apply?reason=setup", "application/yaml", experimentConfig)
	for _, flag := range []string{"checkout", "banner"} {
		exp := `{"experiment": {"key": "` + flag + `-test", "environment": "production", "flag": "` + flag + `",
			"hypothesis": "the new version sells more", "control": "off", "treatments": ["on"],
			"metrics": {"primary": "purchase-rate"}, "baseline": {"rate": 0.1}, "mde": 0.2, "stoppingRule": "fixed"}}`
		admin("POST", "/api/v1/experiments", "application/json", exp)
		admin("POST", "/api/v1/experiments/"+flag+"-test/start", "application/json", `{"reason": "e2e"}`)
	}

	// The application: one SDK client that sends events, and, for the
	// broken logging path, one that does not.
	client, err := sdk.New(ctx, sdkKey, sdk.WithBaseURL(base), sdk.WithEventFlushInterval(50*time.Millisecond),
		sdk.WithEventBufferSize(50_000)) // the loop below records faster than any network sends
	if err != nil {
		t.Fatal(err)
	}
	silent, err := sdk.New(ctx, sdkKey, sdk.WithBaseURL(base), sdk.WithEvents(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sdk.Client{client, silent} {
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const users = 6000
	for i := range users {
		user := "user-" + strconv.Itoa(i)
		uctx := &eval.Context{TargetingKey: user}
		treated := client.Bool("checkout", uctx, false)
		rate := 0.10
		if treated {
			rate = 0.15
		}
		if rng.Float64() < rate {
			if err := client.Track("purchase", user); err != nil {
				t.Fatal(err)
			}
		}
		// banner: treatment users are evaluated through the client that
		// sends nothing a third of the time, so their exposures are lost.
		d := silent.BoolDetails("banner", uctx, false)
		if d.Value && i%3 == 0 {
			continue
		}
		client.Bool("banner", uctx, false)
	}
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if err := silent.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if st := client.EventStats(); st.Dropped != 0 || st.Rejected != 0 || st.Pending != 0 || st.Sent == 0 {
		t.Fatalf("the SDK did not deliver everything: %+v", st)
	}

	var checkout analysis.Result
	if err := json.Unmarshal(admin("POST", "/api/v1/experiments/checkout-test/results", "application/json", ""), &checkout); err != nil {
		t.Fatal(err)
	}
	var units int64
	for _, u := range checkout.Units {
		units += u.Units
	}
	if units != users || checkout.MultipleVariantUnits != 0 {
		t.Fatalf("units %+v (%d excluded), want all %d users once", checkout.Units, checkout.MultipleVariantUnits, users)
	}
	if checkout.SRM.Mismatch {
		t.Fatalf("a 50/50 split served by the SDK is flagged as a sample-ratio mismatch: %+v", checkout.SRM)
	}
	tr := checkout.Metrics[0].Variants[1]
	if tr.Relative == nil || tr.Relative.PValue == nil {
		t.Fatalf("no comparison: %+v", tr)
	}
	// The planted effect is +50% (10% → 15%): the interval holds it and
	// excludes no effect.
	if tr.Relative.CILow <= 0 || tr.Relative.CILow > 0.5 || tr.Relative.CIHigh < 0.5 || *tr.Relative.PValue > 0.001 {
		t.Fatalf("treatment %+v: the interval [%v, %v] should contain the planted +50%% and exclude 0",
			tr.Relative, tr.Relative.CILow, tr.Relative.CIHigh)
	}
	t.Logf("checkout: units %+v, relative lift %.3f [%.3f, %.3f], p %.2g, SRM p %.3f", checkout.Units,
		tr.Relative.Estimate, tr.Relative.CILow, tr.Relative.CIHigh, *tr.Relative.PValue, checkout.SRM.PValue)

	var banner analysis.Result
	if err := json.Unmarshal(admin("GET", "/api/v1/experiments/banner-test/results", "application/json", ""), &banner); err != nil {
		t.Fatal(err)
	}
	if !banner.SRM.Mismatch {
		t.Fatalf("losing a third of one arm's exposures is not flagged: units %+v, SRM %+v", banner.Units, banner.SRM)
	}
	t.Logf("banner: units %+v, SRM p %.2g", banner.Units, banner.SRM.PValue)

	// The stored analysis is in the history; the read-only one is not.
	var history struct {
		Analyses []analysis.Result `json:"analyses"`
	}
	if err := json.Unmarshal(admin("GET", "/api/v1/experiments/checkout-test/results/history", "application/json", ""), &history); err != nil {
		t.Fatal(err)
	}
	if len(history.Analyses) != 1 || history.Analyses[0].Experiment != "checkout-test" {
		t.Fatalf("history = %+v", history.Analyses)
	}

	// The next experiment started without a traffic figure estimates its
	// duration from the units that sent events in the last day.
	admin("POST", "/api/v1/experiments/checkout-test/stop", "application/json", `{"reason": "done"}`)
	admin("POST", "/api/v1/experiments", "application/json", `{"experiment": {"key": "checkout-2", "environment": "production",
		"flag": "checkout", "control": "off", "treatments": ["on"], "metrics": {"primary": "purchase-rate"},
		"baseline": {"rate": 0.1}, "mde": 0.1}}`)
	var started struct {
		Experiment struct {
			SampleSize       map[string]int64 `json:"sampleSize"`
			ExpectedDuration string           `json:"expectedDuration"`
		} `json:"experiment"`
	}
	if err := json.Unmarshal(admin("POST", "/api/v1/experiments/checkout-2/start", "application/json", `{"reason": "next"}`), &started); err != nil {
		t.Fatal(err)
	}
	if started.Experiment.ExpectedDuration == "" || started.Experiment.SampleSize["off"] == 0 {
		t.Fatalf("no expected duration from recent traffic: %+v", started.Experiment)
	}
	t.Logf("checkout-2: sample size %v, expected duration %s at about %d units a day", started.Experiment.SampleSize,
		started.Experiment.ExpectedDuration, users)
}
