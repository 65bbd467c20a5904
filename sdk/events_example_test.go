package sdk_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/sdk"
)

// An experiment's flag records an exposure when it is evaluated (once per
// unit, variant and flag version within the window), Track records a metric
// event, and Close sends what the client still holds. A stand-in for the
// Weir server prints the events it receives.
func ExampleClient_Track() {
	weir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sdk/v1/snapshot":
			io.WriteString(w, `{"environment": "production", "version": 7, "flagVersions": {"new-checkout": 3},
 "file": {"environments": [{"key": "production", "privateAttributes": ["email"], "eventProperties": ["plan"]}],
  "flags": [{"key": "new-checkout", "type": "boolean", "variants": {"on": true, "off": false},
   "environments": {"production": {"enabled": true,
     "default": {"split": {"on": 50, "off": 50}, "experiment": "checkout-2026"}}}}]}}`)
		case "/events/v1/batch": // gzip-compressed JSON of an event.Batch
			body, _ := gzip.NewReader(r.Body)
			batch, _ := event.Decode(body, event.DefaultLimits())
			for _, e := range batch.Events {
				switch e.Kind {
				case event.KindExposure:
					fmt.Println("exposure:", e.Unit, e.Flag, e.Variant, "version", e.FlagVersion, e.Experiment)
				case event.KindTrack:
					fmt.Println("track:", e.Unit, e.Name, *e.Value, e.Properties)
				}
			}
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"accepted": 2, "duplicate": false}`)
		}
	}))
	defer weir.Close()

	ctx := context.Background()
	client, err := sdk.New(ctx, "weir_sdk_…", sdk.WithBaseURL(weir.URL), sdk.WithInitTimeout(5*time.Second),
		sdk.WithPolling(time.Minute)) // the stand-in does not stream

	if err != nil {
		log.Fatal(err)
	}
	user := eval.Context{TargetingKey: "user-42", Attributes: map[string]any{"email": "ann@example.com"}}
	for range 1000 { // one exposure, however often the flag is evaluated
		client.Bool("new-checkout", &user, false)
	}
	err = client.Track("purchase", "user-42", sdk.WithValue(49.90),
		sdk.WithProperties(map[string]any{"plan": "pro", "email": "ann@example.com", "coupon": "SPRING"}))
	if err != nil {
		log.Print(err)
	}

	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Close(closeCtx); err != nil {
		log.Print(err) // how many events could not be delivered in time
	}
	s := client.EventStats()
	fmt.Println("recorded", s.Recorded, "sent", s.Sent, "dropped", s.Dropped)
	// Output:
	// exposure: user-42 new-checkout on version 3 checkout-2026
	// track: user-42 purchase 49.9 map[plan:pro]
	// recorded 2 sent 2 dropped 0
}
