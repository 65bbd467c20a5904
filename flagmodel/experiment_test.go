package flagmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func parseExperimentFile(t *testing.T, path string) *Experiment {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseExperiment(data)
	if err != nil {
		t.Fatalf("ParseExperiment %s: %v", path, err)
	}
	return e
}

// knownConfig is the configuration the experiment fixtures refer to.
func knownConfig(t *testing.T) *File {
	t.Helper()
	f := parseFile(t, filepath.Join("testdata", "experiments", "known.yaml"))
	if err := f.Validate(); err != nil {
		t.Fatalf("known.yaml: %v", err)
	}
	return f
}

func TestValidExperimentsValidateAgainstTheirConfiguration(t *testing.T) {
	known := knownConfig(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "experiments", "valid", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/experiments/valid")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			e := parseExperimentFile(t, path)
			if err := e.Validate(known); err != nil {
				t.Errorf("Validate:\n%v", err)
			}
		})
	}
}

func TestAnExperimentRoundTripsThroughJSONAndYAMLUnchanged(t *testing.T) {
	e := parseExperimentFile(t, filepath.Join("testdata", "experiments", "valid", "running.yaml"))
	var js bytes.Buffer
	if err := json.NewEncoder(&js).Encode(e); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := ParseExperiment(js.Bytes())
	if err != nil {
		t.Fatalf("ParseExperiment(JSON): %v\n%s", err, js.String())
	}
	if !reflect.DeepEqual(fromJSON, e) {
		t.Errorf("JSON round trip differs:\n got %+v\nwant %+v", fromJSON, e)
	}
	if !strings.Contains(js.String(), `"weights":{"classic":50,"one-page":25,"express":25}`) ||
		!strings.Contains(js.String(), `"sampleSize":{"classic":58000,"one-page":29000,"express":29000}`) {
		t.Errorf("weights and sample sizes lost their order in JSON:\n%s", js.String())
	}
	data, err := yamlOf(e)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := ParseExperiment(data)
	if err != nil {
		t.Fatalf("ParseExperiment(YAML): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(fromYAML, e) {
		t.Errorf("YAML round trip differs:\n got %+v\nwant %+v\n%s", fromYAML, e, data)
	}
	if p := e.Phases[1]; p.StoppedAt != (time.Time{}) || !p.StartedAt.Equal(time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("phase 2 times: started %v, stopped %v", p.StartedAt, p.StoppedAt)
	}
}

// TestInvalidExperimentsReportEveryProblem validates each
// testdata/experiments/invalid/*.yaml against known.yaml and compares the
// problems with the golden *.errors file next to it (-update rewrites
// them).
func TestInvalidExperimentsReportEveryProblem(t *testing.T) {
	known := knownConfig(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "experiments", "invalid", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/experiments/invalid")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			e := parseExperimentFile(t, path)
			ref := known
			if filepath.Base(path) == "definition.yaml" {
				ref = nil // problems of the definition alone
			}
			var ve *ValidationError
			if err := e.Validate(ref); !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			compareGolden(t, strings.TrimSuffix(path, ".yaml")+".errors", got)
		})
	}
}

func compareGolden(t *testing.T, golden string, got []string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems differ from %s (run with -update to accept):\n%s", golden, lineDiff(want, got))
	}
}

func TestParseExperimentIsStrictAndNamesTheLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"an unknown field", "key: x\ncontrl: a\n", `line 2: unknown field "contrl" in experiment`},
		{"an unknown field in the metrics", "key: x\nmetrics: {primery: a}\n", `unknown field "primery" in experiment metrics`},
		{"a duplicate weight", "key: x\nweights: {a: 50, a: 50}\n", `line 2: split variant "a" is defined twice`},
		{"a sample size that is not a number", "key: x\nsampleSize: {a: many}\n", `the sample size of "a" must be a whole number of units`},
		{"an unknown JSON field", `{"key": "x", "layers": []}`, `unknown field "layers"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseExperiment([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseExperiment = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSplitWeightsDefaultToEqualSharesInVariantOrder(t *testing.T) {
	e := Experiment{Control: "a", Treatments: []string{"b", "c"}}
	want := Weights{{Variant: "a", Weight: 33334}, {Variant: "b", Weight: 33333}, {Variant: "c", Weight: 33333}}
	if got := e.SplitWeights(); !reflect.DeepEqual(got, want) {
		t.Errorf("equal shares = %+v, want %+v", got, want)
	}
	e.Weights = Weights{{Variant: "c", Weight: 10000}, {Variant: "a", Weight: 80000}, {Variant: "b", Weight: 10000}}
	want = Weights{{Variant: "a", Weight: 80000}, {Variant: "b", Weight: 10000}, {Variant: "c", Weight: 10000}}
	if got := e.SplitWeights(); !reflect.DeepEqual(got, want) {
		t.Errorf("written weights = %+v, want them in variant order %+v", got, want)
	}
}

func TestExperimentDefaultsApplyToZeroValues(t *testing.T) {
	var e Experiment
	alpha, power := e.Level()
	if e.State() != StatusDraft || e.Share() != WeightScale || e.Unit() != TargetingKey || e.Rule() != StoppingFixed || alpha != 0.05 || power != 0.8 {
		t.Errorf("defaults: status %s, share %d, unit %s, rule %s, alpha %g, power %g", e.State(), e.Share(), e.Unit(), e.Rule(), alpha, power)
	}
}

func TestDurationsAreDaysOrGoDurations(t *testing.T) {
	tests := []struct {
		in   Duration
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"d", 0, true},
		{"-1d", 0, true},
		{"+1d", 0, true},
		{"1.5d", 0, true},
		{"2 weeks", 0, true},
	}
	for _, tt := range tests {
		got, err := tt.in.Parse()
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("Duration(%q).Parse() = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if Days(14) != "14d" {
		t.Errorf("Days(14) = %q", Days(14))
	}
}

func TestAMetricOnItsOwnReportsItsFields(t *testing.T) {
	m := Metric{Key: "ctr", Type: MetricRatio, Numerator: "click"}
	err := m.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].String() != "denominator: event name is required" {
		t.Errorf("Validate = %v, want the one missing denominator", err)
	}
	ok := Metric{Key: "purchase", Type: MetricConversion, Event: "purchase", ConversionWindow: "7d"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid metric: %v", err)
	}
	if !ok.Better() {
		t.Error("a metric is better higher unless it says otherwise")
	}
}

func yamlOf(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	err := enc.Close()
	return b.Bytes(), err
}

// FuzzParseExperiment checks that any input parses or fails cleanly, that
// validation never panics, and that a valid experiment survives a round
// trip through JSON and YAML unchanged.
func FuzzParseExperiment(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "experiments", "*", "*.yaml"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"key":"x","environment":"p","flag":"f","control":"a","treatments":["b"],"weights":{"a":5e1,"b":50},"sampleSize":{"a":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseExperiment(data)
		if err != nil || e.Validate(nil) != nil {
			return
		}
		js, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("JSON of a valid experiment: %v", err)
		}
		y, err := yamlOf(e)
		if err != nil {
			t.Fatalf("YAML of a valid experiment: %v", err)
		}
		for _, out := range [][]byte{js, y} {
			again, err := ParseExperiment(out)
			if err != nil {
				t.Fatalf("reading back %s: %v", out, err)
			}
			if !equalJSONBytes(t, again, e) {
				t.Fatalf("round trip changed the experiment:\n%s", out)
			}
		}
	})
}

func equalJSONBytes(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}
