package openfeature_test

import (
	"context"
	"fmt"
	"log"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/weirhq/weir/sdk"
	weirof "github.com/weirhq/weir/sdk/openfeature"
)

func ExampleNewProvider() {
	// Connected to a server, this would be sdk.New(ctx, sdkKey,
	// sdk.WithBaseURL(...)); here a flags file stands in.
	client, err := sdk.New(context.Background(), "", sdk.WithOffline(), sdk.WithBootstrap([]byte(`
environments: [{key: production}]
flags:
  - key: greeting
    type: string
    variants: {formal: "Good day", casual: "Hi"}
    environments:
      production:
        enabled: true
        rules: [{id: free-plan, when: [{attribute: plan, op: in, values: [free]}], serve: {variant: casual}}]
        default: {variant: formal}
`)))
	if err != nil {
		log.Fatal(err)
	}
	// The provider owns the client: shutting OpenFeature down closes it.
	if err := of.SetProviderWithContextAndWait(context.Background(), weirof.NewProvider(client)); err != nil {
		log.Fatal(err)
	}
	defer of.Shutdown()

	flags := of.NewDefaultClient()
	user := of.NewEvaluationContext("user-42", map[string]any{"plan": "free"})
	d, err := flags.StringValueDetails(context.Background(), "greeting", "Hello", user)
	fmt.Println(d.Value, d.Reason, d.Variant, err)
	// Output: Hi TARGETING_MATCH casual <nil>
}
