package sdk_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/sdk"
)

// A client connected to a Weir server: it waits up to two seconds for the
// flags, starts from its disk cache when the server is down, and keeps
// following changes in the background.
func ExampleNew() {
	ctx := context.Background()
	client, err := sdk.New(ctx, "weir_sdk_…", // an SDK key of one environment
		sdk.WithBaseURL("http://localhost:8420"),
		sdk.WithCacheDir(".weir-cache"),
		sdk.WithInitTimeout(2*time.Second),
		sdk.WithLogger(slog.Default()),
	)
	if client == nil {
		log.Fatal(err)
	}
	if err != nil {
		log.Printf("serving defaults until the flags arrive: %v", err)
	}
	defer client.Close(ctx)

	user := eval.Context{TargetingKey: "user-42", Attributes: map[string]any{"country": "NL"}}
	if client.Bool("new-checkout", &user, false) {
		fmt.Println("new checkout")
	}
}

// Without a server: a flags file serves as the configuration.
func ExampleWithOffline() {
	flags := []byte(`
environments: [{key: production}]
flags:
  - key: new-checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        rules:
          - id: dutch
            when: [{attribute: country, op: in, values: [NL]}]
            serve: {variant: on}
        default: {variant: off}
`)
	client, err := sdk.New(context.Background(), "", sdk.WithOffline(), sdk.WithBootstrap(flags))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(context.Background())

	// Build contexts once and reuse them: evaluation does not allocate.
	user := eval.Context{TargetingKey: "user-42", Attributes: map[string]any{"country": "NL"}}
	d := client.BoolDetails("new-checkout", &user, false)
	fmt.Println(d.Value, d.Reason, d.Variant, d.RuleID)

	// A flag of another type, or a missing one, gives the default and says why.
	s := client.StringDetails("new-checkout", &user, "default")
	fmt.Println(s.Value, s.Reason, s.ErrorCode)
	// Output:
	// true TARGETING_MATCH on dutch
	// default ERROR TYPE_MISMATCH
}

// Listeners hear about new snapshots and status changes.
func ExampleClient_OnChange() {
	client, err := sdk.New(context.Background(), "weir_sdk_…")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(context.Background())
	remove := client.OnChange(func(ch sdk.Change) {
		switch ch.Kind {
		case sdk.ChangeSnapshot:
			log.Printf("flags of %s updated to version %d", ch.Environment, ch.Version)
		case sdk.ChangeStatus:
			log.Printf("status %s (%v)", ch.Status, ch.Err)
		}
	})
	defer remove()
}
