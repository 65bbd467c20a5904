package openfeature_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/sdk"
	weirof "github.com/weirhq/weir/sdk/openfeature"
)

// trackingServer serves a snapshot of an environment whose attribute
// "email" is private, and keeps the events posted to its intake.
func trackingServer(t *testing.T) (*httptest.Server, func() []event.Event) {
	var mu sync.Mutex
	var got []event.Event
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sdk/v1/snapshot":
			_, _ = io.WriteString(w, `{"environment":"production","version":1,"file":{"environments":[{"key":"production","privateAttributes":["email"]}],"flags":[]}}`)
		case "/events/v1/batch":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("body: %v", err)
				return
			}
			b, err := event.Decode(zr, event.DefaultLimits())
			if err == nil {
				err = event.Validate(b, time.Now(), event.DefaultLimits())
			}
			if err != nil {
				t.Errorf("invalid batch: %v", err)
				return
			}
			mu.Lock()
			got = append(got, b.Events...)
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"accepted":1,"duplicate":false}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, func() []event.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]event.Event(nil), got...)
	}
}

func TestOpenFeatureTrackingSendsTrackEventsThroughTheClient(t *testing.T) {
	ts, received := trackingServer(t)
	c, err := sdk.New(context.Background(), "weir_sdk_x", sdk.WithBaseURL(ts.URL), sdk.WithPolling(time.Hour),
		sdk.WithInitTimeout(5*time.Second), sdk.WithEventFlushInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := of.SetProviderWithContextAndWait(context.Background(), weirof.NewProvider(c)); err != nil {
		t.Fatal(err)
	}
	client := of.NewDefaultClient()
	ctx := context.Background()
	client.Track(ctx, "purchase", of.NewEvaluationContext("user-42", nil),
		of.NewTrackingEventDetails(19.99).Add("plan", "pro").Add("email", "ann@example.com"))
	client.Track(ctx, "signup", of.NewEvaluationContext("user-43", nil), of.TrackingEventDetails{})
	client.Track(ctx, "signup", of.NewTargetlessEvaluationContext(nil), of.TrackingEventDetails{})
	if s := c.EventStats(); s.Recorded != 2 || s.Invalid != 1 {
		t.Errorf("stats %+v, want 2 recorded and the event without a targeting key invalid", s)
	}
	of.Shutdown() // closes the client, which sends what it holds

	events := received()
	if len(events) != 2 {
		t.Fatalf("the intake received %d events, want 2: %+v", len(events), events)
	}
	purchase, signup := events[0], events[1]
	if purchase.Name != "purchase" || purchase.Unit != "user-42" || purchase.Value == nil || *purchase.Value != 19.99 {
		t.Errorf("purchase: %+v", purchase)
	}
	if want := map[string]any{"plan": "pro"}; !reflect.DeepEqual(purchase.Properties, want) {
		t.Errorf("purchase properties %v, want %v (email is private)", purchase.Properties, want)
	}
	if signup.Name != "signup" || signup.Unit != "user-43" || signup.Value != nil || signup.Properties != nil {
		t.Errorf("signup: %+v", signup)
	}
}
