package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/sdk"
)

const typedFlags = `
environments: [{key: production}]
flags:
  - key: dark-mode
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: on}}
  - key: greeting
    type: string
    variants: {formal: "Good day", casual: "Hi"}
    environments:
      production: {enabled: true, rules: [{id: friends, when: [{attribute: plan, op: in, values: [free]}], serve: {variant: casual}}], default: {variant: formal}}
  - key: discount
    type: number
    variants: {none: 0, some: 12.5}
    environments:
      production: {enabled: true, default: {variant: some}}
  - key: limits
    type: object
    variants: {small: {requests: 10}, big: {requests: 1000}}
    environments:
      production: {enabled: false, offVariant: small}
  - key: retired
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: false}
`

func TestTypedAccessorsServeValuesAndFallBackToTheDefault(t *testing.T) {
	c := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(typedFlags)))
	if c.Status() != sdk.StatusOffline {
		t.Errorf("status %v, want OFFLINE", c.Status())
	}
	free := &eval.Context{TargetingKey: "u1", Attributes: map[string]any{"plan": "free"}}
	if !c.Bool("dark-mode", nil, false) {
		t.Error("Bool")
	}
	if d := c.StringDetails("greeting", free, "hello"); d.Value != "Hi" || d.Reason != eval.ReasonTargetingMatch || d.RuleID != "friends" || d.Variant != "casual" {
		t.Errorf("StringDetails: %+v", d)
	}
	if got := c.Number("discount", nil, -1); got != 12.5 {
		t.Errorf("Number: %v", got)
	}
	if d := c.ObjectDetails("limits", nil, nil); d.Reason != eval.ReasonDisabled || d.Value.(map[string]any)["requests"] != 10.0 {
		t.Errorf("ObjectDetails of a disabled flag with an off variant: %+v", d)
	}
	for _, c := range []struct {
		name string
		d    sdk.Details[any]
		code eval.ErrorCode
	}{
		{"a boolean read as a string", anyOf(c.StringDetails("dark-mode", nil, "def")), eval.ErrorTypeMismatch},
		{"a string read as a number", anyOf(c.NumberDetails("greeting", nil, 7)), eval.ErrorTypeMismatch},
		{"a number read as a boolean", anyOf(c.BoolDetails("discount", nil, true)), eval.ErrorTypeMismatch},
		{"an object read as a string", anyOf(c.StringDetails("limits", nil, "def")), eval.ErrorTypeMismatch},
		{"a missing flag", anyOf(c.BoolDetails("nope", nil, true)), eval.ErrorFlagNotFound},
	} {
		if c.d.Reason != eval.ReasonError || c.d.ErrorCode != c.code {
			t.Errorf("%s: %+v, want ERROR %v", c.name, c.d.Result, c.code)
		}
		if c.d.Value != "def" && c.d.Value != 7.0 && c.d.Value != true {
			t.Errorf("%s: value %v, want the caller's default", c.name, c.d.Value)
		}
	}
	if d := c.BoolDetails("retired", nil, true); !d.Value || d.Reason != eval.ReasonDisabled || d.IsError() {
		t.Errorf("a disabled flag without an off variant: %+v; want the default with reason DISABLED", d)
	}
}

func anyOf[T any](d sdk.Details[T]) sdk.Details[any] {
	return sdk.Details[any]{Value: d.Value, Result: d.Result}
}

func TestOfflineClientsNeedSomethingToServe(t *testing.T) {
	if _, err := sdk.New(context.Background(), "", sdk.WithOffline()); err == nil {
		t.Error("an offline client without bootstrap or cache was created")
	}
	if _, err := sdk.New(context.Background(), "", sdk.WithOffline(), sdk.WithBootstrap([]byte("flags: [{key: x"))); err == nil {
		t.Error("an unparsable bootstrap was accepted")
	}
	path := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.WriteFile(path, []byte(typedFlags), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrapFile(path))
	if !c.Bool("dark-mode", nil, false) {
		t.Error("the bootstrap file is not served")
	}
	two := "environments: [{key: a}, {key: b}]\n"
	if _, err := sdk.New(context.Background(), "", sdk.WithOffline(), sdk.WithBootstrap([]byte(two))); err == nil {
		t.Error("a flags file with two environments was accepted without WithEnvironment")
	}
	newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(two)), sdk.WithEnvironment("b"))
}

// snapshotDoc is a valid snapshot document of production at version v in
// which flag "f" serves value.
func snapshotDoc(env string, v int, value bool) string {
	return fmt.Sprintf(`{"environment":%q,"version":%d,"flagVersions":{"f":%d},"file":{"environments":[{"key":%q}],"flags":[{"key":"f","type":"boolean","variants":{"on":true,"off":false},"environments":{%q:{"enabled":true,"default":{"variant":%q}}}}]}}`,
		env, v, v, env, env, map[bool]string{true: "on", false: "off"}[value])
}

// fakeStream serves, per connection, the next script of raw SSE text; a
// script ending without "\n\n" leaves its last event truncated when the
// connection closes. After the scripts, connections stay open.
func fakeStream(t *testing.T, scripts ...string) *httptest.Server {
	var mu sync.Mutex
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sdk/v1/stream" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		i := n
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		if i < len(scripts) {
			w.Write([]byte(scripts[i]))
			return
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestDamagedSnapshotsAreRejectedAndTheLastGoodOneStays(t *testing.T) {
	event := func(data string) string { return "event: snapshot\ndata: " + data + "\n\n" }
	good := snapshotDoc("production", 1, true)
	ts := fakeStream(t,
		event(good)+
			event(`{"environment":"production","version":2,"file":{"flags":[{"key":"f"`)+ // truncated JSON
			event(`not json at all`)+
			event(`{"environment":"production","version":3}`)+ // no file
			event(strings.Replace(snapshotDoc("production", 4, false), `"variant":"off"`, `"variant":"maybe"`, 1))+ // invalid file
			event(snapshotDoc("staging", 5, false))+ // another environment
			event(`{"environment":"production","version":6,"file":{"flags":[],"bogus":1}}`)+ // unknown field
			"event: snapshot\ndata: "+snapshotDoc("production", 7, false)[:40], // cut off by the connection's end
		event(snapshotDoc("production", 8, false)),
	)
	var mu sync.Mutex
	var versions []int64
	c, err := sdk.New(context.Background(), "weir_sdk_x", sdk.WithBaseURL(ts.URL), sdk.WithBackoff(5*time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	c.OnChange(func(ch sdk.Change) {
		if ch.Kind == sdk.ChangeSnapshot {
			mu.Lock()
			versions = append(versions, ch.Version)
			mu.Unlock()
		}
	})
	eventually(t, "version 8 arrives", func() bool { v, _ := c.Version(); return v == 8 })
	mu.Lock()
	defer mu.Unlock()
	if len(versions) == 0 || versions[len(versions)-1] != 8 {
		t.Fatalf("snapshots served: %v", versions)
	}
	for _, v := range versions {
		if v != 1 && v != 8 {
			t.Errorf("the damaged snapshot %d was served (all: %v)", v, versions)
		}
	}
	if c.Bool("f", nil, true) {
		t.Error("version 8 serves off")
	}
}

func TestAStreamOfCommentsAndMultiLineDataIsUnderstood(t *testing.T) {
	doc := snapshotDoc("production", 3, true)
	// The JSON split over several data lines, CRLF line ends, comments, a
	// retry hint and an unnamed event between.
	half := strings.Index(doc, `,"file"`) // between two JSON tokens
	script := ": hello\r\nretry: 5\r\n\r\ndata: ignored message\r\n\r\nevent: snapshot\r\nid: 3\r\ndata: " + doc[:half] + "\r\ndata:" + doc[half:] + "\r\n\r\n"
	ts := fakeStream(t, script)
	c := newClient(t, "weir_sdk_x", sdk.WithBaseURL(ts.URL), sdk.WithInitTimeout(5*time.Second))
	// A newline inside JSON between tokens is whitespace, so the joined
	// data is the same document.
	if v, _ := c.Version(); v != 3 || !c.Bool("f", nil, false) {
		t.Fatalf("version %d", v)
	}
}

func TestTypedEvaluationAgreesWithEvaluateAsForEveryFlagAndType(t *testing.T) {
	doc := typedFlags + `  - key: needs-key
    type: string
    variants: {a: A, b: B}
    environments:
      production: {enabled: true, default: {split: {a: 50, b: 50}}}
`
	c := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(doc)))
	snap := c.Snapshot()
	contexts := []*eval.Context{nil, {TargetingKey: "u1", Attributes: map[string]any{"plan": "free"}}}
	for _, key := range append(snap.Keys(), "missing") {
		for _, ctx := range contexts {
			for typ, got := range map[flagmodel.ValueType]eval.Result{
				flagmodel.TypeBoolean: c.BoolDetails(key, ctx, false).Result,
				flagmodel.TypeString:  c.StringDetails(key, ctx, "").Result,
				flagmodel.TypeNumber:  c.NumberDetails(key, ctx, 0).Result,
				flagmodel.TypeObject:  c.ObjectDetails(key, ctx, nil).Result,
			} {
				if want := snap.EvaluateAs(key, typ, ctx); !reflect.DeepEqual(got, want) {
					t.Errorf("%s as %s for %v: %+v, EvaluateAs gives %+v", key, typ, ctx, got, want)
				}
			}
		}
	}
}
