package openfeature_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/weirhq/weir/sdk"
	weirof "github.com/weirhq/weir/sdk/openfeature"
)

const flags = `
environments: [{key: production}]
flags:
  - key: dark-mode
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        targets: {on: [vip]}
        default: {split: {on: 50, off: 50}}
  - key: greeting
    type: string
    variants: {formal: "Good day", casual: "Hi"}
    environments:
      production: {enabled: true, rules: [{id: friends, when: [{attribute: plan, op: in, values: [free]}], serve: {variant: casual}}], default: {variant: formal}}
  - key: retries
    type: number
    variants: {few: 3, many: 10, half: 2.5}
    environments:
      production: {enabled: true, default: {variant: few}}
  - key: ratio
    type: number
    variants: {half: 0.5}
    environments:
      production: {enabled: true, default: {variant: half}}
  - key: limits
    type: object
    variants: {small: {requests: 10}}
    environments:
      production: {enabled: false, offVariant: small}
`

func TestTheOpenFeatureClientEvaluatesThroughTheProvider(t *testing.T) {
	c, err := sdk.New(context.Background(), "", sdk.WithOffline(), sdk.WithBootstrap([]byte(flags)))
	if err != nil {
		t.Fatal(err)
	}
	defer of.Shutdown()
	if err := of.SetProviderWithContextAndWait(context.Background(), weirof.NewProvider(c)); err != nil {
		t.Fatal(err)
	}
	client := of.NewDefaultClient()
	ctx := context.Background()
	vip := of.NewEvaluationContext("vip", map[string]any{"plan": "free"})
	anon := of.NewEvaluationContext("", nil)

	if d, err := client.BooleanValueDetails(ctx, "dark-mode", false, vip); err != nil || !d.Value || d.Reason != of.TargetingMatchReason || d.Variant != "on" {
		t.Errorf("boolean target: %+v %v", d, err)
	}
	if d, _ := client.BooleanValueDetails(ctx, "dark-mode", true, anon); d.ErrorCode != of.TargetingKeyMissingCode || !d.Value {
		t.Errorf("split without a targeting key: %+v", d)
	}
	if d, _ := client.StringValueDetails(ctx, "greeting", "hello", vip); d.Value != "Hi" || d.FlagMetadata["ruleId"] != "friends" {
		t.Errorf("string rule: %+v", d)
	}
	if d, _ := client.IntValueDetails(ctx, "retries", 0, vip); d.Value != 3 || d.Reason != of.StaticReason {
		t.Errorf("int: %+v", d)
	}
	if d, _ := client.IntValueDetails(ctx, "ratio", 7, vip); d.Value != 7 || d.ErrorCode != of.TypeMismatchCode {
		t.Errorf("a fraction read as an int: %+v", d)
	}
	if d, _ := client.FloatValueDetails(ctx, "ratio", 0, vip); d.Value != 0.5 {
		t.Errorf("float: %+v", d)
	}
	if d, _ := client.ObjectValueDetails(ctx, "limits", nil, vip); d.Reason != of.DisabledReason || d.Value.(map[string]any)["requests"] != 10.0 {
		t.Errorf("object off variant: %+v", d)
	}
	if d, _ := client.StringValueDetails(ctx, "dark-mode", "x", vip); d.Value != "x" || d.ErrorCode != of.TypeMismatchCode {
		t.Errorf("type mismatch: %+v", d)
	}
	if d, _ := client.BooleanValueDetails(ctx, "nope", true, vip); d.Value != true || d.ErrorCode != of.FlagNotFoundCode {
		t.Errorf("missing flag: %+v", d)
	}
}

func snapshotDoc(v int, on bool) string {
	variant := map[bool]string{true: "on", false: "off"}[on]
	return fmt.Sprintf(`{"environment":"production","version":%d,"file":{"environments":[{"key":"production"}],"flags":[{"key":"f","type":"boolean","variants":{"on":true,"off":false},"environments":{"production":{"enabled":true,"default":{"variant":%q}}}}]}}`, v, variant)
}

func TestProviderEventsFollowTheClient(t *testing.T) {
	release := make(chan struct{})
	next := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", snapshotDoc(1, false))
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", snapshotDoc(2, true))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer ts.Close()
	c, err := sdk.New(context.Background(), "weir_sdk_x", sdk.WithBaseURL(ts.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer of.Shutdown()
	events := make(chan of.EventType, 16)
	for _, et := range []of.EventType{of.ProviderReady, of.ProviderConfigChange, of.ProviderError} {
		cb := func(of.EventDetails) {
			select {
			case events <- et:
			default:
			}
		}
		of.AddHandler(et, &cb)
		defer of.RemoveHandler(et, &cb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = of.SetProviderWithContext(ctx, weirof.NewProvider(c))
	client := of.NewDefaultClient()
	if d, _ := client.BooleanValueDetails(context.Background(), "f", true, of.NewEvaluationContext("u", nil)); d.ErrorCode != of.ProviderNotReadyCode || !d.Value {
		t.Errorf("before the first snapshot: %+v", d)
	}
	close(release)
	waitFor(t, events, of.ProviderReady)
	if client.Boolean(context.Background(), "f", true, of.NewEvaluationContext("u", nil)) {
		t.Error("version 1 serves off")
	}
	close(next)
	waitFor(t, events, of.ProviderConfigChange)
	deadline := time.Now().Add(5 * time.Second)
	for !client.Boolean(context.Background(), "f", false, of.NewEvaluationContext("u", nil)) {
		if time.Now().After(deadline) {
			t.Fatal("version 2 is not served")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitFor(t *testing.T, events <-chan of.EventType, want of.EventType) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-events:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event", want)
		}
	}
}
