package eval_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// FuzzEvaluate feeds arbitrary contexts to every flag of the spec files and
// checks the invariants of a result: evaluation never panics, an error never
// carries a value, a served variant always carries its value.
func FuzzEvaluate(f *testing.F) {
	var snaps []*eval.Snapshot
	for _, sf := range loadSpecs(f, filepath.Join("testdata", "spec")) {
		raw, err := yaml.Marshal(&sf.File)
		if err != nil {
			f.Fatal(err)
		}
		file, err := flagmodel.Parse(raw)
		if err != nil {
			f.Fatal(err)
		}
		all, err := eval.PrepareAll(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range all {
			snaps = append(snaps, s)
		}
		for _, c := range sf.Cases {
			b, _ := json.Marshal(c.Context)
			f.Add(b)
		}
	}
	f.Add([]byte(`{"targetingKey": 5, "version": "1.2.3-+", "ip": "::ffff:1.2.3.4%eth0"}`))
	f.Add([]byte(`{"signup": "9999-12-31T23:59:60.999999999+23:59", "age": 1e308, "orgId": -9007199254740993}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var attrs map[string]any
		if json.Unmarshal(data, &attrs) != nil {
			return
		}
		ctx := eval.NewContext(attrs)
		for _, s := range snaps {
			for _, key := range s.Keys() {
				r := s.Evaluate(key, &ctx)
				checkInvariants(t, key, r)
				e, _ := s.Explain(key, &ctx)
				if e.Variant != r.Variant || e.Reason != r.Reason {
					t.Fatalf("%s: Explain %+v differs from Evaluate %+v", key, e, r)
				}
			}
		}
	})
}

func checkInvariants(t *testing.T, key string, r eval.Result) {
	t.Helper()
	switch {
	case r.Reason == 0:
		t.Fatalf("%s: result without reason: %+v", key, r)
	case r.IsError() && (r.Value != nil || r.Variant != "" || r.ErrorCode == 0):
		t.Fatalf("%s: inconsistent error result: %+v", key, r)
	case !r.IsError() && r.ErrorCode != 0:
		t.Fatalf("%s: error code without ERROR reason: %+v", key, r)
	case r.Variant != "" && r.Value == nil:
		t.Fatalf("%s: variant without value: %+v", key, r)
	}
}
