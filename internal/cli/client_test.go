package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

func TestWritePlan(t *testing.T) {
	created := plan.Item{Op: plan.OpCreate, Kind: store.KindFlagState, Key: "new-checkout", Env: "production",
		Diff: []string{"+ enabled: true"}}
	updated := plan.Item{Op: plan.OpUpdate, Kind: store.KindFlag, Key: "payments-v2", Version: 3,
		Diff: []string{`- description: "old"`, `+ description: "new"`}}
	deleted := plan.Item{Op: plan.OpDelete, Kind: store.KindSegment, Key: "old-beta", Version: 2,
		Diff: []string{"- segment old-beta"}}
	unchanged := plan.Item{Op: plan.OpUnchanged, Kind: store.KindEnvironment, Key: "production", Version: 1}
	tests := []struct {
		name    string
		res     changeResult
		dryRun  bool
		verbose bool
		want    string
	}{
		{
			name: "an applied plan lists changes with their diffs and collapses unchanged items into the count",
			res:  changeResult{Changed: true, Plan: []plan.Item{unchanged, created, updated}, Versions: []int64{1, 4}},
			want: `+ create flag-state new-checkout [production]
    + enabled: true
~ update flag payments-v2
    - description: "old"
    + description: "new"
1 created, 1 changed, 1 unchanged: applied
`,
		},
		{
			name:    "verbose lists unchanged items too",
			res:     changeResult{Changed: true, Plan: []plan.Item{unchanged, created}, Versions: []int64{1}},
			verbose: true,
			want: `= unchanged environment production
+ create flag-state new-checkout [production]
    + enabled: true
1 created, 0 changed, 1 unchanged: applied
`,
		},
		{
			name:   "a dry run says nothing was applied",
			res:    changeResult{Plan: []plan.Item{created}},
			dryRun: true,
			want: `+ create flag-state new-checkout [production]
    + enabled: true
1 created, 0 changed, 0 unchanged: dry run: nothing applied
`,
		},
		{
			name: "deletions are counted and their diff is not repeated",
			res:  changeResult{Changed: true, Plan: []plan.Item{deleted}, Versions: []int64{3}},
			want: `- delete segment old-beta
0 created, 0 changed, 1 deleted, 0 unchanged: applied
`,
		},
		{
			name: "a plan of unchanged items has nothing to change",
			res:  changeResult{Plan: []plan.Item{unchanged, unchanged}},
			want: "0 created, 0 changed, 2 unchanged: nothing to change\n",
		},
		{
			name: "an empty plan has nothing to change",
			res:  changeResult{Plan: []plan.Item{}},
			want: "0 created, 0 changed, 0 unchanged: nothing to change\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writePlan(&b, tt.res, tt.dryRun, tt.verbose); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestResponseError(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
		wantEnv     bool // exit 2 rather than 1
	}{
		{
			name:   "validation problems list every field under the title and detail",
			status: 422, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Invalid configuration","status":422,"detail":"the change would make the configuration invalid",
				"problems":[{"field":"flags[0].environments.production.rules[0].when[0].op","message":"unknown operator \"endsWithh\""},
				{"field":"flags[1].variants","message":"at least one variant"}]}`,
			want: `Invalid configuration: the change would make the configuration invalid
  flags[0].environments.production.rules[0].when[0].op: unknown operator "endsWithh"
  flags[1].variants: at least one variant`,
		},
		{
			name:   "a single problem that is the detail is not repeated",
			status: 400, contentType: "application/problem+json",
			body: `{"title":"Bad Request","status":400,"detail":"reason: say why","problems":[{"field":"reason","message":"say why"}]}`,
			want: "Bad Request: reason: say why",
		},
		{
			name:   "401 adds a hint about WEIR_TOKEN",
			status: 401, contentType: "application/problem+json",
			body: `{"title":"Unauthorized","status":401,"detail":"an admin token is required"}`,
			want: "Unauthorized: an admin token is required\n  hint: set WEIR_TOKEN (or --token) to a valid admin token",
		},
		{
			name:   "403 says the key lacks admin scope",
			status: 403, contentType: "application/problem+json",
			body: `{"title":"Forbidden","status":403,"detail":"this key may not do that"}`,
			want: "Forbidden: this key may not do that\n  hint: WEIR_TOKEN holds a key without admin scope; use an admin token",
		},
		{
			name:   "a conflict names the current version",
			status: 409, contentType: "application/problem+json",
			body: `{"title":"Version conflict","status":409,"detail":"flag \"x\" changed","currentVersion":7}`,
			want: "Version conflict: flag \"x\" changed\n  current version: 7",
		},
		{
			name:   "5xx is the environment's fault",
			status: 503, contentType: "application/problem+json",
			body: `{"title":"Store unavailable","status":503,"detail":"the database cannot be reached; retry later"}`,
			want: "Store unavailable: the database cannot be reached; retry later", wantEnv: true,
		},
		{
			name:   "a response that is not a problem document shows its status and start",
			status: 502, contentType: "text/html",
			body: "<html>bad gateway</html>",
			want: "502 Bad Gateway: <html>bad gateway</html>", wantEnv: true,
		},
		{
			name:   "an empty 404 still reads well",
			status: 404, contentType: "",
			want: "404 Not Found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := responseError(tt.status, tt.contentType, []byte(tt.body))
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err.Error(), tt.want)
			}
			var ee envError
			if got := errors.As(err, &ee); got != tt.wantEnv {
				t.Errorf("environment error: %v, want %v", got, tt.wantEnv)
			}
		})
	}
}
