package eval_test

import (
	"fmt"
	"os"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

func Example() {
	data, err := os.ReadFile("../examples/flags.yaml")
	if err != nil {
		panic(err)
	}
	file, err := flagmodel.Parse(data)
	if err != nil {
		panic(err)
	}
	snap, err := eval.Prepare(file, "production")
	if err != nil {
		panic(err) // a *flagmodel.ValidationError listing every problem
	}
	ctx := eval.NewContext(map[string]any{
		"targetingKey": "user-7",
		"email":        "jane@example.com",
		"country":      "US",
	})
	r := snap.Evaluate("new-checkout", &ctx)
	fmt.Println(r.Variant, r.Value, r.Reason, r.RuleID)
	// Output: enabled true TARGETING_MATCH staff
}
