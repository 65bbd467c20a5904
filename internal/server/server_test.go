package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/server"
	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/sqlite"
)

const adminToken = "weir_admin_test-token-for-the-server-tests"

type fixture struct {
	t   testing.TB
	srv *server.Server
	ts  *httptest.Server
	st  *sqlite.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "weir.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &store.Changeset{Actor: "test", Action: "bootstrap"}
	for _, e := range []string{"development", "production"} {
		env := flagmodel.Environment{Key: e}
		cs.Changes = append(cs.Changes, store.Change{Kind: store.KindEnvironment, Key: e, Environment: &env})
	}
	if _, err := st.Commit(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(ctx, store.Key{ID: "k1", Name: "tests", Scope: store.ScopeAdmin, Hash: auth.Hash(adminToken), CreatedBy: "test", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &fixture{t: t, srv: srv, ts: ts, st: st}
}

// do sends a request with the admin token and decodes a JSON answer.
func (f *fixture) do(method, path, body string, headers ...string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func (f *fixture) apply(doc string) map[string]any {
	f.t.Helper()
	code, out := f.do("POST", "/api/v1/apply?reason=test", doc)
	if code != http.StatusOK {
		f.t.Fatalf("apply: %d %v", code, out)
	}
	return out
}

const checkout = `
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        offVariant: off
        targets: {on: [vip]}
        default: {variant: off}
`

func TestApplyingTheSameFileTwiceCreatesNoVersion(t *testing.T) {
	f := newFixture(t)
	first := f.apply(checkout)
	if first["changed"] != true {
		t.Fatalf("first apply changed nothing: %v", first)
	}
	second := f.apply(checkout)
	if second["changed"] != false {
		t.Fatalf("second apply changed something: %v", second)
	}
	vs, err := f.st.History(context.Background(), store.KindFlagState, "checkout", "production")
	if err != nil || len(vs) != 1 {
		t.Fatalf("history %d versions, %v", len(vs), err)
	}
}

func TestAChangeIsServedByTheNextEvaluation(t *testing.T) {
	f := newFixture(t)
	f.apply(checkout)
	ctx := eval.Context{TargetingKey: "vip"}
	if r := f.srv.Snapshot("production").Evaluate("checkout", &ctx); r.Variant != "on" {
		t.Fatalf("before: %+v", r)
	}
	code, out := f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"incident"}`)
	if code != http.StatusOK {
		t.Fatalf("disable: %d %v", code, out)
	}
	if r := f.srv.Snapshot("production").Evaluate("checkout", &ctx); r.Reason != eval.ReasonDisabled || r.Variant != "off" || r.Version != 2 {
		t.Fatalf("after the kill switch: %+v", r)
	}
}

func TestAStaleExpectedVersionIsAConflictAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.apply(checkout)
	code, out := f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"x"}`, "If-Match", `"7"`)
	if code != http.StatusConflict || out["currentVersion"] != 1.0 {
		t.Fatalf("got %d %v, want 409 with currentVersion 1", code, out)
	}
	vs, _ := f.st.History(context.Background(), store.KindFlagState, "checkout", "production")
	if len(vs) != 1 {
		t.Fatalf("a conflict wrote a version: %d", len(vs))
	}
}

func TestRollbackRestoresContentAsANewVersion(t *testing.T) {
	f := newFixture(t)
	f.apply(checkout)
	f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"x"}`)
	code, out := f.do("POST", "/api/v1/flags/checkout/environments/production/rollback", `{"to":"1","reason":"undo"}`)
	if code != http.StatusOK {
		t.Fatalf("rollback: %d %v", code, out)
	}
	vs, _ := f.st.History(context.Background(), store.KindFlagState, "checkout", "production")
	if len(vs) != 3 || string(vs[2].Content) != string(vs[0].Content) {
		t.Fatalf("want 3 versions with v3 == v1, got %d:\n%s\n%s", len(vs), vs[0].Content, vs[len(vs)-1].Content)
	}
	if vs[2].Action != "rollback" {
		t.Errorf("action %q", vs[2].Action)
	}
}

func TestAnInvalidChangeIsRejectedWithEveryProblemAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.apply(checkout)
	code, out := f.do("PUT", "/api/v1/flags/checkout/environments/production",
		`{"state":{"enabled":true,"offVariant":"of","default":{"variant":"maybe"}}}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %v", code, out)
	}
	problems, _ := out["problems"].([]any)
	if len(problems) != 2 {
		t.Fatalf("want 2 problems, got %v", out["problems"])
	}
	vs, _ := f.st.History(context.Background(), store.KindFlagState, "checkout", "production")
	if len(vs) != 1 {
		t.Fatalf("an invalid change wrote a version")
	}
}

func TestRequestsAreStrictAndBounded(t *testing.T) {
	f := newFixture(t)
	f.apply(checkout)
	tests := []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"an unknown field is rejected by name", "PUT", "/api/v1/flags/checkout/environments/production", `{"state":{"enabled":true},"extra":1}`, 400, "extra"},
		{"malformed JSON is a bad request", "POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":`, 400, ""},
		{"an empty body is a bad request", "POST", "/api/v1/keys", ``, 400, ""},
		{"a reason is required for the kill switch", "POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":" "}`, 400, "reason"},
		{"a body over the limit is refused", "POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"an unknown flag is not found", "GET", "/api/v1/flags/nope", ``, 404, ""},
		{"an unknown environment is not found", "GET", "/api/v1/flags/checkout/environments/mars", ``, 404, ""},
		{"an SDK key needs an environment", "POST", "/api/v1/keys", `{"scope":"sdk"}`, 400, "env"},
		{"a key scope must be known", "POST", "/api/v1/keys", `{"scope":"root"}`, 400, "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := f.do(tt.method, tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %v", code, tt.want, out)
			}
			if out["status"] != float64(tt.want) || out["title"] == "" {
				t.Errorf("not a problem document: %v", out)
			}
			if tt.field != "" {
				ps, _ := out["problems"].([]any)
				if len(ps) == 0 || ps[0].(map[string]any)["field"] != tt.field {
					t.Errorf("problems %v do not name field %q", out["problems"], tt.field)
				}
			}
		})
	}
}

func TestEveryAdminRouteNeedsAnAdminToken(t *testing.T) {
	f := newFixture(t)
	code, out := f.do("POST", "/api/v1/keys", `{"scope":"sdk","env":"production","name":"app"}`)
	if code != http.StatusCreated {
		t.Fatalf("create sdk key: %d %v", code, out)
	}
	sdkKey := out["secret"].(string)
	if !strings.HasPrefix(sdkKey, auth.SDKPrefix) {
		t.Fatalf("secret %q", sdkKey)
	}
	// The secret is never listed again.
	_, list := f.do("GET", "/api/v1/keys", "")
	if b, _ := json.Marshal(list); strings.Contains(string(b), sdkKey) {
		t.Fatal("the key list shows a secret")
	}
	for _, tok := range []struct {
		name, header string
		want         int
	}{
		{"no token", "", 401},
		{"a wrong token", "Bearer weir_admin_nope", 401},
		{"an SDK key", "Bearer " + sdkKey, 403},
	} {
		req, _ := http.NewRequest("GET", f.ts.URL+"/api/v1/flags", nil)
		if tok.header != "" {
			req.Header.Set("Authorization", tok.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tok.want {
			t.Errorf("%s: status %d, want %d", tok.name, resp.StatusCode, tok.want)
		}
	}
	// A revoked admin token stops working.
	_, created := f.do("POST", "/api/v1/keys", `{"scope":"admin","name":"ci"}`)
	ci := created["secret"].(string)
	f.do("DELETE", "/api/v1/keys/"+created["id"].(string), "")
	req, _ := http.NewRequest("GET", f.ts.URL+"/api/v1/flags", nil)
	req.Header.Set("Authorization", "Bearer "+ci)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("revoked token: %d", resp.StatusCode)
	}
}

func TestTheOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	data, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	f := newFixture(t)
	routes := server.Routes(f.srv)
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		ops, ok := doc.Paths[r[1]]
		if !ok {
			t.Errorf("route %s %s is missing from openapi.json", r[0], r[1])
			continue
		}
		if _, ok := ops[strings.ToLower(r[0])]; !ok {
			t.Errorf("method %s of %s is missing from openapi.json", r[0], r[1])
		}
	}
	code, _ := f.do("GET", "/api/v1/openapi.json", "")
	if code != 200 {
		t.Errorf("serving the document: %d", code)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(f.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), `weir_snapshot_reloads_total{kind="full"}`) {
			t.Errorf("metrics lack weir_snapshot_reloads_total")
		}
	}
}

func BenchmarkChangeToServing(b *testing.B) {
	f := newFixture(b)
	f.apply(checkout)
	ctx := eval.Context{TargetingKey: "someone"}
	enabled := true
	b.ReportAllocs()
	for b.Loop() {
		enabled = !enabled
		action := "disable"
		if enabled {
			action = "enable"
		}
		code, out := f.do("POST", "/api/v1/flags/checkout/environments/production/"+action, `{"reason":"bench"}`)
		if code != 200 {
			b.Fatalf("%d %v", code, out)
		}
		r := f.srv.Snapshot("production").Evaluate("checkout", &ctx)
		if (r.Reason == eval.ReasonDisabled) == enabled {
			b.Fatalf("the change is not served: %+v", r)
		}
	}
}

func BenchmarkApply1000Flags(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("flags:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, `  - key: flag-%d
    type: string
    variants: {a: A, b: B}
    environments:
      production:
        enabled: true
        rules: [{when: [{attribute: country, op: in, values: [DE, FR]}], serve: {split: {a: 50, b: 50}}}]
        default: {variant: a}
`, i)
	}
	doc := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b)
		b.StartTimer()
		out := f.apply(doc)
		if out["changed"] != true {
			b.Fatal("nothing applied")
		}
	}
}

func TestApplyAcceptsFilesLargerThanOrdinaryBodies(t *testing.T) {
	f := newFixture(t)
	var sb strings.Builder
	sb.WriteString("flags:\n")
	for i := 0; sb.Len() < 2<<20; i++ {
		fmt.Fprintf(&sb, "  - key: flag-%d\n    description: %s\n    type: boolean\n    variants: {on: true, off: false}\n", i, strings.Repeat("d", 200))
	}
	out := f.apply(sb.String())
	if out["changed"] != true {
		t.Fatalf("a %d-byte file was not applied", sb.Len())
	}
}

// After any sequence of writes, what the server serves equals a fresh
// preparation of what the store holds: the incremental path after a commit
// must never drift from a full reload.
func TestServedSnapshotsMatchTheStoreAfterEveryKindOfWrite(t *testing.T) {
	f := newFixture(t)
	f.apply(`
segments: [{key: staff, rules: [{when: [{attribute: email, op: endsWith, values: ["@example.com"]}]}]}]
flags:
  - key: base
    type: string
    variants: {v1: one, v2: two}
    environments:
      production: {enabled: true, targets: {v1: [old]}, default: {variant: v2}}
      development: {enabled: true, default: {variant: v1}}
  - key: child
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        offVariant: off
        prerequisites: [{flag: base, variants: [v2]}]
        rules: [{id: staff, when: [{op: inSegment, values: [staff]}], serve: {variant: on}}]
        default: {split: {on: 50, off: 50}}
  - key: lonely
    type: number
    variants: {low: 1, high: 2}
    environments: {production: {enabled: true, default: {variant: low}}}
`)
	steps := []struct{ method, path, body string }{
		{"POST", "/api/v1/flags/base/environments/production/disable", `{"reason":"r"}`},
		{"POST", "/api/v1/flags/base/environments/production/enable", `{"reason":"r"}`},
		{"PUT", "/api/v1/flags/base", `{"flag":{"key":"base","type":"string","variants":{"v2":"deux","v1":"un"}}}`},
		{"PUT", "/api/v1/flags/base/environments/production", `{"state":{"enabled":true,"default":{"variant":"v1"}}}`},
		{"POST", "/api/v1/flags/base/environments/production/rollback", `{"to":"previous","reason":"r"}`},
		{"PUT", "/api/v1/segments/staff", `{"segment":{"key":"staff","included":["old"]}}`},
		{"DELETE", "/api/v1/flags/lonely?reason=r", ``},
		{"PUT", "/api/v1/flags/fresh", `{"flag":{"key":"fresh","type":"boolean","variants":{"on":true},"environments":{"production":{"enabled":true,"default":{"variant":"on"}}}}}`},
	}
	contexts := []eval.Context{
		eval.NewContext(map[string]any{"targetingKey": "old"}),
		eval.NewContext(map[string]any{"targetingKey": "new", "email": "a@example.com"}),
		eval.NewContext(map[string]any{"targetingKey": "user-7"}),
		eval.NewContext(map[string]any{}),
	}
	for i, step := range steps {
		before := f.metric(`weir_snapshot_reloads_total{kind="incremental"}`)
		code, out := f.do(step.method, step.path, step.body)
		if !strings.Contains(step.path, "segments") && f.metric(`weir_snapshot_reloads_total{kind="incremental"}`) != before+1 {
			t.Errorf("step %d (%s %s) did not take the incremental path", i, step.method, step.path)
		}
		if code >= 300 {
			t.Fatalf("step %d %s %s: %d %v", i, step.method, step.path, code, out)
		}
		cfg, err := f.st.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := eval.PrepareAll(planFileOf(cfg))
		if err != nil {
			t.Fatal(err)
		}
		for env, want := range fresh {
			got := f.srv.Snapshot(env)
			if got == nil {
				t.Fatalf("step %d: no snapshot for %s", i, env)
			}
			if strings.Join(got.Keys(), ",") != strings.Join(want.Keys(), ",") {
				t.Fatalf("step %d, %s: served keys %v, stored %v", i, env, got.Keys(), want.Keys())
			}
			for _, k := range want.Keys() {
				for c := range contexts {
					g, w := got.Evaluate(k, &contexts[c]), want.Evaluate(k, &contexts[c])
					if fmt.Sprint(g) != fmt.Sprint(w) {
						t.Fatalf("step %d (%s %s), %s/%s, context %d: served %+v, stored %+v", i, step.method, step.path, env, k, c, g, w)
					}
				}
			}
		}
	}
}

func planFileOf(cfg *store.Config) *flagmodel.File { return plan.FileOf(cfg) }

// metric reads one sample from /metrics (0 when absent).
func (f *fixture) metric(name string) float64 {
	f.t.Helper()
	resp, err := http.Get(f.ts.URL + "/metrics")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, name+" "), &v)
			return v
		}
	}
	return 0
}
