package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestAnalyzeReadsTheContractAndAnswersInJSON(t *testing.T) {
	in := `{"metric": {"type": "mean", "higherIsBetter": true},
 "method": "frequentist", "alpha": 0.05, "control": "control",
 "weights": {"control": 50, "treatment": 50},
 "variants": [
   {"key": "control",   "n": 5000, "sum": 50000, "sumSquares": 3624375},
   {"key": "treatment", "n": 5100, "sum": 57120, "sumSquares": 4495862.75}]}`
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"analyze"}, strings.NewReader(in), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res struct {
		SRM      struct{ Mismatch bool } `json:"srm"`
		Variants []struct {
			Key      string
			Absolute *struct{ Estimate, PValue float64 }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Variants) != 2 || res.Variants[1].Absolute == nil || res.Variants[1].Absolute.Estimate < 1.19 || res.Variants[1].Absolute.Estimate > 1.21 {
		t.Fatalf("unexpected analysis: %s", out.String())
	}
}

func TestAnalyzeRejectsBadInputWithItsLocation(t *testing.T) {
	var out, errb bytes.Buffer
	in := `{"metric":{"type":"mean"},"variants":[{"key":"a","n":-3,"sum":1,"sumSquares":1},{"key":"b","n":5,"sum":1,"sumSquares":1}]}`
	code := Run(context.Background(), []string{"analyze", "-f", "-"}, strings.NewReader(in), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "variants[0].n") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestSampleSizeSolvesForUnitsPowerAndEffect(t *testing.T) {
	for _, tt := range []struct {
		solve, design, want string
	}{
		{"units", `{"metric":"proportion","baseline":0.1,"mde":0.05,"relative":true}`, `"unitsPerArm"`},
		{"power", `{"metric":"proportion","baseline":0.1,"mde":0.05,"relative":true,"units":20000}`, `"power"`},
		{"mde", `{"metric":"mean","baseline":10,"stdDev":2,"units":2000}`, `"mde"`},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"samplesize", "--solve", tt.solve}, strings.NewReader(tt.design), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), tt.want) {
			t.Errorf("--solve %s: exit %d, out %q, err %q", tt.solve, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"samplesize", "--solve", "magic"}, strings.NewReader(`{"metric":"mean","baseline":1,"stdDev":1,"mde":0.1}`), &out, &errb); code != 1 {
		t.Errorf("an unknown --solve exits %d", code)
	}
}
