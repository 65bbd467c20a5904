package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// ofrepJSDir holds the official OpenFeature JavaScript server SDK and its
// OFREP provider (package.json, package-lock.json) and check.mjs, which
// evaluates cases with them. `npm ci` there installs them; .ci/run does.
const ofrepJSDir = "testdata/ofrep-js"

// ofrepInteropFlags is the flags file of the server's own OFREP tests: a
// flag of every value type and every reason.
const ofrepInteropFlags = "../server/testdata/ofrep-flags.yaml"

// jsCase is one evaluation for check.mjs, and jsResult what the SDK
// returned for it.
type jsCase struct {
	Name    string `json:"-"`
	Flag    string `json:"flag"`
	Type    string `json:"type"`
	Default any    `json:"default"`
	Context any    `json:"context,omitempty"`
	Want    jsResult
}

type jsResult struct {
	Value     any            `json:"value"`
	Variant   string         `json:"variant"`
	Reason    string         `json:"reason"`
	ErrorCode string         `json:"errorCode"`
	Metadata  map[string]any `json:"metadata"`
}

// TestTheOfficialOpenFeatureOFREPProviderEvaluatesWeirFlags drives a live
// server with the official OpenFeature JavaScript server SDK and its OFREP
// provider (the Go OFREP provider is not available to this build): every
// value type, every reason, and the error codes, as an application in any
// language with an OpenFeature OFREP provider would see them.
func TestTheOfficialOpenFeatureOFREPProviderEvaluatesWeirFlags(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the OpenFeature JavaScript SDK cannot run (.ci/run installs it)")
	}
	if _, err := os.Stat(filepath.Join(ofrepJSDir, "node_modules", "@openfeature", "ofrep-provider")); err != nil {
		t.Skipf("the OpenFeature JavaScript SDK is not installed: run `npm ci` in internal/app/%s (.ci/run does)", ofrepJSDir)
	}
	ctx := context.Background()
	flags, err := os.ReadFile(ofrepInteropFlags)
	if err != nil {
		t.Fatal(err)
	}
	live := startLive(t, "the-ofrep-interop-test")
	base, sdkKey := live.base, live.sdkKey
	live.admin("POST", "/api/v1/apply?reason=setup", "application/yaml", string(flags))

	user := map[string]any{"targetingKey": "user-1"}
	v1 := map[string]any{"flagVersion": 1.0}
	cases := []jsCase{
		{Name: "a static boolean", Flag: "banner", Type: "boolean", Default: false, Context: user,
			Want: jsResult{Value: true, Variant: "on", Reason: "STATIC", Metadata: v1}},
		{Name: "a string from a matching rule", Flag: "greeting", Type: "string", Default: "", Context: map[string]any{"targetingKey": "u", "country": "NL"},
			Want: jsResult{Value: `Hallo "wereld"`, Variant: "dutch", Reason: "TARGETING_MATCH", Metadata: map[string]any{"flagVersion": 1.0, "ruleId": "netherlands"}}},
		{Name: "a string by default", Flag: "greeting", Type: "string", Default: "", Context: map[string]any{"targetingKey": "u", "country": "BE"},
			Want: jsResult{Value: "Hello\nworld", Variant: "english", Reason: "DEFAULT", Metadata: v1}},
		{Name: "an integer", Flag: "limit", Type: "number", Default: 0, Context: user,
			Want: jsResult{Value: 3.0, Variant: "three", Reason: "DEFAULT", Metadata: v1}},
		{Name: "a float from a rule without id", Flag: "limit", Type: "number", Default: 0, Context: map[string]any{"targetingKey": "u", "plan": "pro"},
			Want: jsResult{Value: 3.14159, Variant: "pi", Reason: "TARGETING_MATCH", Metadata: map[string]any{"flagVersion": 1.0, "ruleId": "rules[0]"}}},
		{Name: "an object", Flag: "theme", Type: "object", Default: map[string]any{}, Context: user,
			Want: jsResult{Value: map[string]any{"colour": "blue", "sizes": []any{1.0, 2.5}, "nested": map[string]any{"deep": true}},
				Variant: "blue", Reason: "STATIC", Metadata: v1}},
		{Name: "a split serving an experiment", Flag: "rollout", Type: "boolean", Default: false, Context: user,
			Want: jsResult{Value: false, Variant: "off", Reason: "SPLIT", Metadata: map[string]any{"flagVersion": 1.0, "experimentKey": "new-checkout"}}},
		{Name: "a disabled flag's off variant", Flag: "kill-switch", Type: "boolean", Default: true, Context: user,
			Want: jsResult{Value: false, Variant: "off", Reason: "DISABLED", Metadata: v1}},
		// Weir answers with the protocol's code-default form (no value);
		// this provider predates it and reports an error, with the code
		// default as the value all the same.
		{Name: "a disabled flag without off variant: the code default", Flag: "parked", Type: "string", Default: "code default", Context: user,
			Want: jsResult{Value: "code default", Reason: "ERROR", ErrorCode: "GENERAL", Metadata: map[string]any{}}},
		{Name: "a failed prerequisite", Flag: "gated", Type: "boolean", Default: true, Context: user,
			Want: jsResult{Value: false, Variant: "off", Reason: "PREREQUISITE_FAILED", Metadata: v1}},
		{Name: "an unknown flag", Flag: "nope", Type: "boolean", Default: true, Context: user,
			Want: jsResult{Value: true, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND", Metadata: map[string]any{}}},
		{Name: "another environment's flag", Flag: "dev-only", Type: "boolean", Default: false, Context: user,
			Want: jsResult{Value: false, Reason: "ERROR", ErrorCode: "FLAG_NOT_FOUND", Metadata: map[string]any{}}},
		{Name: "a split without targeting key", Flag: "rollout", Type: "boolean", Default: false, Context: map[string]any{"country": "NL"},
			Want: jsResult{Value: false, Reason: "ERROR", ErrorCode: "TARGETING_KEY_MISSING", Metadata: map[string]any{}}},
		{Name: "a string flag asked for a boolean", Flag: "greeting", Type: "boolean", Default: true, Context: user,
			Want: jsResult{Value: true, Reason: "ERROR", ErrorCode: "TYPE_MISMATCH", Metadata: map[string]any{}}},
		{Name: "a numeric targeting key", Flag: "banner", Type: "boolean", Default: false, Context: map[string]any{"targetingKey": 42},
			Want: jsResult{Value: false, Reason: "ERROR", ErrorCode: "INVALID_CONTEXT", Metadata: map[string]any{}}},
	}
	in, _ := json.Marshal(cases)
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a hung node process must not hang the tests
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "check.mjs", base, sdkKey)
	cmd.Dir = ofrepJSDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	var got []jsResult
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(cases) {
		t.Fatalf("check.mjs printed %d results (%v), want %d:\n%s\n%s", len(got), err, len(cases), out, stderr.String())
	}
	for i, c := range cases {
		if !reflect.DeepEqual(got[i], c.Want) {
			t.Errorf("%s:\ngot  %#v\nwant %#v", c.Name, got[i], c.Want)
		}
	}
}
