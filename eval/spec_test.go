package eval_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// A spec file pins evaluation behaviour with data: a flags file and cases of
// (environment, flag, context) → expected result. The SDK runs the same
// files, so the server, the SDK and the CLI cannot drift apart.
type specFile struct {
	Description string    `yaml:"description"`
	File        yaml.Node `yaml:"file"`
	Cases       []specCase
}

type specCase struct {
	Name    string         `yaml:"name"`
	Env     string         `yaml:"env"`
	Flag    string         `yaml:"flag"`
	Context map[string]any `yaml:"context"`
	Expect  specExpect     `yaml:"expect"`
}

type specExpect struct {
	Variant   string `yaml:"variant"`
	Value     any    `yaml:"value"`
	Reason    string `yaml:"reason"`
	RuleID    string `yaml:"ruleId"`
	ErrorCode string `yaml:"errorCode"`
	Version   int64  `yaml:"version"`
	// Experiment, Rollout and Unit describe the result's Allocation; all
	// empty means the result is no exposure.
	Experiment string `yaml:"experiment"`
	Rollout    string `yaml:"rollout"`
	Unit       string `yaml:"unit"`
}

// LoadSpecs reads every spec file in dir. Exported through the test package
// only; the SDK tests carry their own loader over the same files.
func loadSpecs(t testing.TB, dir string) map[string]specFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no spec files in %s: %v", dir, err)
	}
	out := map[string]specFile{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var sf specFile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&sf); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = sf
	}
	return out
}

func TestSpecFiles(t *testing.T) {
	for name, sf := range loadSpecs(t, filepath.Join("testdata", "spec")) {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			raw, err := yaml.Marshal(&sf.File)
			if err != nil {
				t.Fatal(err)
			}
			f, err := flagmodel.Parse(raw)
			if err != nil {
				t.Fatalf("parse flags: %v", err)
			}
			snaps, err := eval.PrepareAll(f)
			if err != nil {
				t.Fatalf("prepare: %v", err)
			}
			if len(sf.Cases) == 0 {
				t.Fatal("spec file has no cases")
			}
			for _, c := range sf.Cases {
				t.Run(c.Name, func(t *testing.T) {
					env := c.Env
					if env == "" {
						env = "production"
					}
					snap := snaps[env]
					if snap == nil {
						t.Fatalf("no environment %q", env)
					}
					ctx := eval.NewContext(normalizeContext(c.Context))
					got := snap.Evaluate(c.Flag, &ctx)
					checkExpect(t, got, c.Expect)
					// Explain must agree with Evaluate.
					explained, trace := snap.Explain(c.Flag, &ctx)
					if !reflect.DeepEqual(explained, got) {
						t.Errorf("Explain gave %+v, Evaluate %+v", explained, got)
					}
					if trace == nil || len(trace.Steps) == 0 {
						t.Errorf("Explain gave an empty trace")
					}
				})
			}
		})
	}
}

// normalizeContext turns YAML integers into float64, as JSON contexts have.
func normalizeContext(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func checkExpect(t *testing.T, got eval.Result, want specExpect) {
	t.Helper()
	if got.Variant != want.Variant {
		t.Errorf("variant = %q, want %q (result %+v)", got.Variant, want.Variant, got)
	}
	if got.Reason.String() != want.Reason {
		t.Errorf("reason = %s, want %s (result %+v)", got.Reason, want.Reason, got)
	}
	if got.ErrorCode.String() != want.ErrorCode {
		t.Errorf("errorCode = %q, want %q", got.ErrorCode, want.ErrorCode)
	}
	if got.RuleID != want.RuleID {
		t.Errorf("ruleId = %q, want %q", got.RuleID, want.RuleID)
	}
	if want.Version != 0 && got.Version != want.Version {
		t.Errorf("version = %d, want %d", got.Version, want.Version)
	}
	var gotAlloc eval.Allocation
	if got.Allocation != nil {
		gotAlloc = *got.Allocation
	}
	if wantAlloc := (eval.Allocation{Experiment: want.Experiment, Rollout: want.Rollout, Unit: want.Unit}); gotAlloc != wantAlloc {
		t.Errorf("allocation = %+v, want %+v", gotAlloc, wantAlloc)
	}
	wantValue := want.Value
	if wantValue != nil {
		b, _ := json.Marshal(wantValue)
		_ = json.Unmarshal(b, &wantValue)
	}
	if !reflect.DeepEqual(got.Value, wantValue) {
		t.Errorf("value = %#v, want %#v", got.Value, wantValue)
	}
}
