package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/internal/store"
)

const experimentFlags = `
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

const purchaseMetric = `{"metric":{"key":"purchase","type":"conversion","event":"purchase","conversionWindow":"7d"},"reason":"checkout funnel"}`

const checkoutFlow = `{"experiment":{"key":"checkout-flow","environment":"production","flag":"checkout",
  "hypothesis":"one page sells more","control":"classic","treatments":["one-page"],
  "metrics":{"primary":"purchase"},"baseline":{"rate":0.1},"mde":0.05},"reason":"planned in review"}`

// withExperiment returns a fixture with the checkout flag, the purchase
// metric and the draft experiment checkout-flow.
func withExperiment(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.apply(experimentFlags)
	if code, out := f.do("POST", "/api/v1/metrics", purchaseMetric); code != http.StatusCreated {
		t.Fatalf("create metric: %d %v", code, out)
	}
	if code, out := f.do("POST", "/api/v1/experiments", checkoutFlow); code != http.StatusCreated {
		t.Fatalf("create experiment: %d %v", code, out)
	}
	return f
}

func (f *fixture) mustDo(want int, method, path, body string, headers ...string) map[string]any {
	f.t.Helper()
	code, out := f.do(method, path, body, headers...)
	if code != want {
		f.t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

func experimentOf(out map[string]any) map[string]any {
	e, _ := out["experiment"].(map[string]any)
	return e
}

func TestMetricsAreCreatedReadUpdatedAndDeleted(t *testing.T) {
	f := newFixture(t)
	f.mustDo(http.StatusCreated, "POST", "/api/v1/metrics", purchaseMetric)
	out := f.mustDo(http.StatusConflict, "POST", "/api/v1/metrics", purchaseMetric)
	if out["currentVersion"] != 1.0 {
		t.Errorf("creating it twice: %v, want a conflict at version 1", out)
	}
	out = f.mustDo(http.StatusOK, "GET", "/api/v1/metrics/purchase", "")
	if m, _ := out["metric"].(map[string]any); m["conversionWindow"] != "7d" || out["version"] != 1.0 {
		t.Errorf("GET = %v", out)
	}
	revenue := `{"metric":{"key":"purchase","type":"sum","event":"purchase"},"reason":"count value"}`
	f.mustDo(http.StatusOK, "PUT", "/api/v1/metrics/purchase", revenue, "If-Match", `"1"`)
	out = f.mustDo(http.StatusConflict, "PUT", "/api/v1/metrics/purchase", revenue, "If-Match", `"1"`)
	if out["currentVersion"] != 2.0 {
		t.Errorf("a stale If-Match: %v, want currentVersion 2", out)
	}
	out = f.mustDo(http.StatusUnprocessableEntity, "POST", "/api/v1/metrics", `{"metric":{"key":"ctr","type":"ratio","event":"click"}}`)
	if got := fields(out); strings.Join(got, ",") != "event,numerator,denominator" {
		t.Errorf("an invalid metric's problems name %v, want event, numerator and denominator", got)
	}
	out = f.mustDo(http.StatusOK, "GET", "/api/v1/metrics", "")
	if ms, _ := out["metrics"].([]any); len(ms) != 1 {
		t.Errorf("list = %v", out)
	}
	f.mustDo(http.StatusOK, "DELETE", "/api/v1/metrics/purchase?reason=unused", "")
	f.mustDo(http.StatusNotFound, "GET", "/api/v1/metrics/purchase", "")
	vs, err := f.st.History(context.Background(), store.KindMetric, "purchase", "")
	if err != nil || len(vs) != 3 || vs[0].Action != "metric.create" || vs[0].Reason != "checkout funnel" || vs[2].Action != "metric.delete" || vs[2].Reason != "unused" {
		t.Errorf("metric history: %+v, %v", vs, err)
	}
}

func fields(problem map[string]any) []string {
	var out []string
	ps, _ := problem["problems"].([]any)
	for _, p := range ps {
		out = append(out, p.(map[string]any)["field"].(string))
	}
	return out
}

func TestAnExperimentRunsThroughItsLifecycleOverTheAPI(t *testing.T) {
	f := withExperiment(t)
	evaluate := func(key string) eval.Result {
		ctx := eval.Context{TargetingKey: key}
		return f.srv.Snapshot("production").Evaluate("checkout", &ctx)
	}
	out := f.mustDo(http.StatusOK, "GET", "/api/v1/experiments/checkout-flow", "")
	if e := experimentOf(out); e["status"] != "draft" || out["version"] != 1.0 {
		t.Fatalf("a new experiment: %v", out)
	}
	// A draft is edited freely; an unchanged edit writes nothing.
	edited := strings.NewReplacer("one page sells more", "one page sells 5% more", "planned in review", "sharper hypothesis").Replace(checkoutFlow)
	out = f.mustDo(http.StatusOK, "PUT", "/api/v1/experiments/checkout-flow", edited, "If-Match", `"1"`)
	if out["changed"] != true || out["version"] != 2.0 {
		t.Errorf("editing a draft: %v", out)
	}
	if out = f.mustDo(http.StatusOK, "PUT", "/api/v1/experiments/checkout-flow", edited); out["changed"] != false {
		t.Errorf("the same edit again changed something: %v", out)
	}

	out = f.mustDo(http.StatusOK, "POST", "/api/v1/experiments/checkout-flow/start", `{"reason":"review passed","dailyUnits":10000}`)
	e := experimentOf(out)
	if e["status"] != "running" || e["expectedDuration"] == nil || e["sampleSize"] == nil {
		t.Fatalf("start: %v", out)
	}
	changes, _ := out["changes"].([]any)
	if len(changes) != 2 || changes[1].(map[string]any)["kind"] != "flag-state" || changes[1].(map[string]any)["version"] != 2.0 {
		t.Errorf("start changes %v, want the experiment and the flag state at version 2", changes)
	}
	r := evaluate("user-1")
	if r.Reason != eval.ReasonSplit || r.Allocation == nil || r.Allocation.Experiment != "checkout-flow" || r.RuleID != "experiment:checkout-flow" || r.Version != 2 {
		t.Errorf("a unit during the experiment: %+v, want a SPLIT of the experiment's rule", r)
	}
	if r := evaluate("qa-1"); r.Reason != eval.ReasonTargetingMatch || r.Allocation != nil {
		t.Errorf("an individually targeted unit: %+v, want its target, not the experiment", r)
	}

	f.mustDo(http.StatusOK, "POST", "/api/v1/experiments/checkout-flow/stop", `{"reason":"sample size reached"}`)
	if r := evaluate("user-1"); r.Reason != eval.ReasonDefault || r.Variant != "classic" || r.Version != 3 {
		t.Errorf("after stop: %+v, want the default as before the experiment", r)
	}
	out = f.mustDo(http.StatusOK, "POST", "/api/v1/experiments/checkout-flow/decide",
		`{"outcome":"ship","variant":"one-page","setDefault":true,"reason":"+6% purchases"}`)
	if d, _ := experimentOf(out)["decision"].(map[string]any); d["outcome"] != "ship" || d["decidedBy"] != "key:tests" {
		t.Errorf("decision %v", experimentOf(out)["decision"])
	}
	if r := evaluate("user-1"); r.Variant != "one-page" || r.Version != 4 {
		t.Errorf("after shipping with setDefault: %+v, want one-page at version 4", r)
	}
	f.mustDo(http.StatusOK, "POST", "/api/v1/experiments/checkout-flow/archive", `{"reason":"done"}`)

	vs, err := f.st.History(context.Background(), store.KindExperiment, "checkout-flow", "")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, v := range vs {
		steps = append(steps, v.Action+": "+v.Reason)
	}
	want := "experiment.create: planned in review|experiment.update: sharper hypothesis|experiment.start: review passed|experiment.stop: sample size reached|experiment.decide: +6% purchases|experiment.archive: done"
	if strings.Join(steps, "|") != want {
		t.Errorf("experiment history:\n got %s\nwant %s", strings.Join(steps, "|"), want)
	}
	out = f.mustDo(http.StatusOK, "GET", "/api/v1/experiments?status=archived&env=production", "")
	if list, _ := out["experiments"].([]any); len(list) != 1 {
		t.Errorf("filtered list: %v", out)
	}
	if out = f.mustDo(http.StatusOK, "GET", "/api/v1/experiments?status=running", ""); len(out["experiments"].([]any)) != 0 {
		t.Errorf("running experiments: %v", out)
	}
}

func TestExperimentRequestsAreGuardedStrictAndVersioned(t *testing.T) {
	f := withExperiment(t)
	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     int
		field                    string // the first problem's field
		detail                   string // a fragment of the detail
	}{
		{name: "an illegal transition is refused with the reason", method: "POST", path: "/api/v1/experiments/checkout-flow/stop",
			body: `{"reason":"r"}`, want: 409, detail: "cannot stop: experiment is a draft; it never ran"},
		{name: "a stale If-Match is a conflict", method: "POST", path: "/api/v1/experiments/checkout-flow/start",
			body: `{}`, headers: []string{"If-Match", `"7"`}, want: 409, detail: "expected version 7, current version is 1"},
		{name: "a stale expectedVersion is a conflict", method: "POST", path: "/api/v1/experiments/checkout-flow/archive",
			body: `{"reason":"r","expectedVersion":3}`, want: 409},
		{name: "stop needs a reason", method: "POST", path: "/api/v1/experiments/checkout-flow/stop", body: `{"reason":" "}`, want: 400, field: "reason"},
		{name: "decide needs a reason", method: "POST", path: "/api/v1/experiments/checkout-flow/decide", body: `{"outcome":"ship"}`, want: 400, field: "reason"},
		{name: "an unknown field is named", method: "POST", path: "/api/v1/experiments/checkout-flow/start", body: `{"daily":5}`, want: 400, field: "daily"},
		{name: "negative daily units are refused", method: "POST", path: "/api/v1/experiments/checkout-flow/start", body: `{"dailyUnits":-1}`, want: 400, field: "dailyUnits"},
		{name: "an unknown experiment is not found", method: "POST", path: "/api/v1/experiments/nope/start", body: `{}`, want: 404},
		{name: "a body over the limit is refused", method: "POST", path: "/api/v1/experiments", body: `{"reason":"` + strings.Repeat("x", 2<<20) + `"}`, want: 413},
		{name: "an invalid experiment lists every problem", method: "POST", path: "/api/v1/experiments",
			body: `{"experiment":{"key":"x","environment":"production","flag":"checkout","control":"classic","treatments":["two-page"],"metrics":{"primary":"purchases"}}}`,
			want: 422, field: "treatments[0]"},
		{name: "a new experiment cannot be written running", method: "POST", path: "/api/v1/experiments",
			body: `{"experiment":{"key":"y","environment":"production","flag":"checkout","control":"classic","treatments":["one-page"],"status":"running"}}`,
			want: 422, field: "status"},
		{name: "a key must match the URL", method: "PUT", path: "/api/v1/experiments/checkout-flow",
			body: `{"experiment":{"key":"other"}}`, want: 400, field: "experiment.key"},
		{name: "a status filter must be known", method: "GET", path: "/api/v1/experiments?status=runing", want: 400, field: "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.do(tt.method, tt.path, tt.body, tt.headers...)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %v", code, tt.want, out)
			}
			if tt.field != "" {
				if got := fields(out); len(got) == 0 || got[0] != tt.field {
					t.Errorf("problems %v, want the first at %q", out["problems"], tt.field)
				}
			}
			if d, _ := out["detail"].(string); !strings.Contains(d, tt.detail) {
				t.Errorf("detail %q does not contain %q", d, tt.detail)
			}
		})
	}
	vs, _ := f.st.History(context.Background(), store.KindExperiment, "checkout-flow", "")
	if len(vs) != 1 {
		t.Errorf("refused requests wrote %d versions", len(vs)-1)
	}
}

func TestFlagAndMetricWritesCannotBreakARunningExperiment(t *testing.T) {
	f := withExperiment(t)
	f.mustDo(http.StatusOK, "POST", "/api/v1/experiments/checkout-flow/start", `{"reason":"go"}`)
	tests := []struct {
		name, method, path, body string
		field                    string
	}{
		{"replacing the state without the experiment's rule", "PUT", "/api/v1/flags/checkout/environments/production",
			`{"state":{"enabled":true,"default":{"variant":"classic"}}}`, `flag "checkout": environments.production.rules`},
		{"rolling back to before the start", "POST", "/api/v1/flags/checkout/environments/production/rollback",
			`{"to":"1","reason":"undo"}`, `flag "checkout": environments.production.rules`},
		{"deleting the flag", "DELETE", "/api/v1/flags/checkout?reason=cleanup", ``, `flag "checkout"`},
		{"deleting the primary metric", "DELETE", "/api/v1/metrics/purchase?reason=cleanup", ``, `metric "purchase"`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			out := f.mustDo(http.StatusUnprocessableEntity, tt.method, tt.path, tt.body)
			if got := fields(out); len(got) != 1 || got[0] != tt.field {
				t.Errorf("problems %v, want one at %q", out["problems"], tt.field)
			}
		})
	}
	// Flags as code keep working: the export holds the rule, so applying
	// it changes nothing.
	req, _ := http.NewRequest("GET", f.ts.URL+"/api/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	exported, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out := f.apply(string(exported)); out["changed"] != false {
		t.Errorf("applying the export while the experiment runs: %v", out)
	}
	// The kill switch always works, and keeps the rule for when the flag
	// comes back.
	f.mustDo(http.StatusOK, "POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"incident"}`)
	f.mustDo(http.StatusOK, "POST", "/api/v1/flags/checkout/environments/production/enable", `{"reason":"fixed"}`)
	ctx := eval.Context{TargetingKey: "user-1"}
	if r := f.srv.Snapshot("production").Evaluate("checkout", &ctx); r.Allocation == nil {
		t.Errorf("after the kill switch and back: %+v, want the experiment serving again", r)
	}
}

func TestExperimentRoutesRefuseSDKKeys(t *testing.T) {
	f := withExperiment(t)
	out := f.mustDo(http.StatusCreated, "POST", "/api/v1/keys", `{"scope":"sdk","env":"production","name":"app"}`)
	sdkKey := out["secret"].(string)
	for _, r := range [][2]string{
		{"GET", "/api/v1/experiments"},
		{"GET", "/api/v1/metrics"},
		{"POST", "/api/v1/experiments/checkout-flow/start"},
		{"POST", "/api/v1/metrics"},
	} {
		req, _ := http.NewRequest(r[0], f.ts.URL+r[1], strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+sdkKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s with an SDK key: %d, want 403", r[0], r[1], resp.StatusCode)
		}
	}
	if e := experimentOf(f.mustDo(http.StatusOK, "GET", "/api/v1/experiments/checkout-flow", "")); e["status"] != "draft" {
		t.Errorf("an SDK key changed the experiment: %v", e)
	}
}

func TestMetricsInAFlagsFileAreApplied(t *testing.T) {
	f := newFixture(t)
	out := f.apply(experimentFlags + `
metrics:
  - {key: revenue, type: sum, event: purchase, cuped: {lookback: 14d}}
`)
	if out["changed"] != true {
		t.Fatalf("apply: %v", out)
	}
	got := f.mustDo(http.StatusOK, "GET", "/api/v1/metrics/revenue", "")
	if m := got["metric"].(map[string]any); m["type"] != "sum" {
		t.Errorf("the applied metric: %v", got)
	}
	code, exported := f.do("GET", "/api/v1/export?format=json", "")
	if code != 200 || exported["metrics"] == nil {
		t.Errorf("export lacks the metrics: %d %v", code, exported)
	}
}

// After every experiment step the server serves what the store holds, and
// steps take the incremental path (only the changed flag is prepared
// again).
func TestExperimentStepsServeWhatTheStoreHolds(t *testing.T) {
	f := withExperiment(t)
	steps := [][2]string{
		{"/api/v1/experiments/checkout-flow/start", `{"reason":"go"}`},
		{"/api/v1/experiments/checkout-flow/stop", `{"reason":"done"}`},
		{"/api/v1/experiments/checkout-flow/decide", `{"outcome":"rollback","reason":"flat"}`},
		{"/api/v1/experiments/checkout-flow/archive", `{}`},
	}
	contexts := []eval.Context{{TargetingKey: "user-1"}, {TargetingKey: "user-2"}, {TargetingKey: "qa-1"}}
	for _, step := range steps {
		before := f.metric(`weir_snapshot_reloads_total{kind="incremental"}`)
		f.mustDo(http.StatusOK, "POST", step[0], step[1])
		if got := f.metric(`weir_snapshot_reloads_total{kind="incremental"}`); got != before+1 {
			t.Errorf("%s did not take the incremental path", step[0])
		}
		cfg, err := f.st.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := eval.PrepareAll(planFileOf(cfg))
		if err != nil {
			t.Fatal(err)
		}
		for i := range contexts {
			got := f.srv.Snapshot("production").Evaluate("checkout", &contexts[i])
			want := fresh["production"].Evaluate("checkout", &contexts[i])
			if got.Variant != want.Variant || got.Reason != want.Reason || got.Version != want.Version || (got.Allocation == nil) != (want.Allocation == nil) {
				t.Errorf("after %s, context %d: served %+v, stored %+v", step[0], i, got, want)
			}
		}
	}
}
