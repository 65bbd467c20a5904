package cli_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const experimentFlagsFile = `
environments: [{key: production}]
flags:
  - key: checkout
    type: string
    variants: {classic: classic, one-page: one-page}
    environments:
      production:
        enabled: true
        targets: {one-page: [qa-1]}
        default: {variant: classic}
`

const purchaseMetricFile = `
key: purchase
description: Bought anything
type: conversion
event: purchase
conversionWindow: 7d
`

const checkoutFlowFile = `
key: checkout-flow
environment: production
flag: checkout
hypothesis: A one-page checkout raises purchases by 5%
owner: payments
control: classic
treatments: [one-page]
metrics: {primary: purchase}
baseline: {rate: 0.1}
mde: 0.05
`

// TestExperimentLifecycleFromTheCommandLine creates a metric and an
// experiment, starts it, sees a unit's evaluation served by it (OFREP
// names the experiment, the reason is SPLIT), stops, decides and archives
// it, each as a user would type it.
func TestExperimentLifecycleFromTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server; skipped with -short")
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	srv := startServer(t, bin, filepath.Join(dir, "weir.db"))
	env := []string{"WEIR_SERVER=" + srv.url, "WEIR_TOKEN=" + testAdminToken}
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	step := func(wantCode int, wantStdout, wantStderr string, args ...string) result {
		t.Helper()
		r := runWeir(t, bin, env, args...)
		if r.code != wantCode {
			t.Fatalf("weir %s: exit code %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, wantStdout) {
			t.Errorf("weir %s: stdout does not contain %q:\n%s", strings.Join(args, " "), wantStdout, r.stdout)
		}
		if !strings.Contains(r.stderr, wantStderr) {
			t.Errorf("weir %s: stderr does not contain %q:\n%s", strings.Join(args, " "), wantStderr, r.stderr)
		}
		return r
	}

	step(0, "applied", "", "apply", "-f", write("flags.yaml", experimentFlagsFile), "--reason", "set up")
	step(0, "created metric purchase (conversion, version 1)", "", "metric", "create", "-f", write("purchase.yaml", purchaseMetricFile), "--reason", "checkout funnel")
	metrics := step(0, "purchase", "", "metric", "list")
	if rows := strings.Split(strings.TrimSpace(metrics.stdout), "\n"); len(rows) != 2 || strings.Join(strings.Fields(rows[1]), " ") != "purchase conversion purchase higher 1" {
		t.Errorf("metric list:\n%s", metrics.stdout)
	}
	step(0, "conversionWindow: 7d", "", "metric", "get", "purchase")

	bad := strings.Replace(checkoutFlowFile, "treatments: [one-page]", "treatments: [classic]", 1)
	step(1, "", `experiment.yaml: treatments[0]: "classic" is the control; a treatment must differ from it`,
		"experiment", "create", "-f", write("experiment.yaml", bad))
	step(0, "created experiment checkout-flow (draft, version 1)", "",
		"experiment", "create", "-f", write("experiment.yaml", checkoutFlowFile), "--reason", "planned in review")
	step(1, "", "cannot stop: experiment is a draft; it never ran", "experiment", "stop", "checkout-flow", "--reason", "oops")

	started := step(0, "checkout-flow started in production (phase 1): flag checkout now at version 2", "",
		"experiment", "start", "checkout-flow", "--daily-units", "5000", "--reason", "review passed")
	for _, want := range []string{"sample size: classic ", "expected duration: ", "d at 5,000 units a day"} {
		if !strings.Contains(started.stdout, want) {
			t.Errorf("experiment start does not say %q:\n%s", want, started.stdout)
		}
	}
	list := step(0, "checkout-flow", "", "experiment", "list")
	if rows := strings.Split(strings.TrimSpace(list.stdout), "\n"); len(rows) != 2 ||
		strings.Join(strings.Fields(rows[1]), " ") != "checkout-flow checkout production running 1 purchase 2" {
		t.Errorf("experiment list:\n%s", list.stdout)
	}

	// What get prints, update reads: sent back unchanged, it changes nothing.
	current := step(0, "status: running", "", "experiment", "get", "checkout-flow")
	step(0, "experiment checkout-flow already matches the file (version 2)", "",
		"experiment", "update", "-f", write("current.yaml", current.stdout))

	sdkKey := strings.TrimSpace(step(0, "weir_sdk_", "", "keys", "create", "--scope", "sdk", "--env", "production", "--name", "web").stdout)
	ofrep := func(targetingKey string) (reason string, metadata map[string]any) {
		t.Helper()
		body := `{"context":{"targetingKey":"` + targetingKey + `"}}`
		req, _ := http.NewRequest("POST", srv.url+"/ofrep/v1/evaluate/flags/checkout", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sdkKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Reason   string         `json:"reason"`
			Metadata map[string]any `json:"metadata"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("OFREP: %d, %v", resp.StatusCode, err)
		}
		return out.Reason, out.Metadata
	}
	if reason, md := ofrep("user-1"); reason != "SPLIT" || md["experimentKey"] != "checkout-flow" || md["ruleId"] != "experiment:checkout-flow" {
		t.Errorf("OFREP during the experiment: reason %s, metadata %v; want SPLIT by experiment checkout-flow", reason, md)
	}
	if reason, md := ofrep("qa-1"); reason != "TARGETING_MATCH" || md["experimentKey"] != nil {
		t.Errorf("OFREP for a targeted unit: reason %s, metadata %v; want its target, no experiment", reason, md)
	}
	step(0, `"reason":"SPLIT"`, "", "eval", "--env", "production", "--flag", "checkout", "--context", `{"targetingKey":"user-1"}`)

	step(0, "checkout-flow stopped: its rule left flag checkout in production (now version 3)", "",
		"experiment", "stop", "checkout-flow", "--reason", "sample size reached")
	if reason, md := ofrep("user-1"); reason != "DEFAULT" || md["experimentKey"] != nil {
		t.Errorf("OFREP after the stop: reason %s, metadata %v; want the default", reason, md)
	}
	step(1, "", "--variant is required to ship", "experiment", "decide", "checkout-flow", "--outcome", "ship", "--reason", "won")
	step(0, "checkout-flow decided: ship one-page; flag checkout in production now serves one-page by default (version 4)", "",
		"experiment", "decide", "checkout-flow", "--outcome", "ship", "--variant", "one-page", "--set-default", "--reason", "+6% purchases")
	step(0, "checkout-flow archived (version 5)", "", "experiment", "archive", "checkout-flow", "--reason", "done")

	got := step(0, "status: archived", "", "experiment", "get", "checkout-flow")
	for _, want := range []string{"outcome: ship", "seed: checkout-flow.1", "reason: +6% purchases"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("experiment get does not show %q:\n%s", want, got.stdout)
		}
	}
	history := step(0, "4 versions of checkout in production", "", "history", "checkout", "--env", "production")
	for _, want := range []string{"experiment.start  \"review passed\"", "experiment.stop  \"sample size reached\"", "experiment.decide  \"+6% purchases\""} {
		if !strings.Contains(history.stdout, want) {
			t.Errorf("history does not show %q:\n%s", want, history.stdout)
		}
	}
	step(0, "experiment.archive", "", "audit", "list")
	step(0, "audit log intact: ", "", "audit", "verify")
}
