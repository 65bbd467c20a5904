package cli_test

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestEval(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:     "one context evaluates every flag, sorted by key",
			args:     []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--context", `{"targetingKey":"user-3","country":"US","plan":"enterprise"}`},
			wantCode: cli.ExitOK,
			wantStdout: `{"flag":"banner-text","variant":"plain","value":"Welcome","reason":"DISABLED"}
{"flag":"checkout-limits","variant":"large","value":{"currencies":["EUR"],"max":1000.5},"reason":"TARGETING_MATCH","ruleId":"rules[0]"}
{"flag":"new-checkout","variant":"off","value":false,"reason":"DEFAULT"}
`,
		},
		{
			name:     "flags are evaluated in the order --flag gives them, repeated or comma-separated",
			args:     []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--context", `{"targetingKey":"user-7"}`, "--flag", "new-checkout", "--flag", "banner-text,new-checkout"},
			wantCode: cli.ExitOK,
			wantStdout: `{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH","ruleId":"beta"}
{"flag":"banner-text","variant":"plain","value":"Welcome","reason":"DISABLED"}
{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH","ruleId":"beta"}
`,
		},
		{
			name:       "an unknown flag still evaluates, to FLAG_NOT_FOUND, with one warning",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "-", "--flag", "nope", "--flag", "nope"},
			stdin:      "{}\n{}\n",
			wantCode:   cli.ExitOK,
			wantStdout: strings.Repeat(`{"flag":"nope","reason":"ERROR","errorCode":"FLAG_NOT_FOUND","errorMessage":"flag not found in this environment"}`+"\n", 4),
			wantStderr: "weir: warning: testdata/valid.yaml has no flag \"nope\"; evaluations give FLAG_NOT_FOUND\n",
		},
		{
			name:       "a split without a targeting key gives an error code and its message",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--context", `{}`, "--flag", "checkout-limits"},
			wantCode:   cli.ExitOK,
			wantStdout: `{"flag":"checkout-limits","reason":"ERROR","errorCode":"TARGETING_KEY_MISSING","errorMessage":"the split needs a targeting key and the context has none"}` + "\n",
		},
		{
			name:       "a flag not configured in the environment is disabled and serves nothing",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "development", "--context", `{}`, "--flag", "banner-text"},
			wantCode:   cli.ExitOK,
			wantStdout: `{"flag":"banner-text","reason":"DISABLED"}` + "\n",
		},
		{
			name:       "a JSON flags file evaluates like a YAML one",
			args:       []string{"eval", "-f", "testdata/valid.json", "--env", "production", "--context", `{"country":"CA"}`},
			wantCode:   cli.ExitOK,
			wantStdout: `{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH","ruleId":"canada"}` + "\n",
		},
		{
			name:       "the flags file can come from stdin with an inline context",
			args:       []string{"eval", "-f", "-", "--env", "production", "--context", `{"country":"CA"}`},
			stdin:      readFixture(t, "testdata/valid.json"),
			wantCode:   cli.ExitOK,
			wantStdout: `{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH","ruleId":"canada"}` + "\n",
		},
		{
			name:     "a bad context line stops after the lines before it, naming the line and the problem",
			args:     []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "testdata/bad-contexts.jsonl", "--flag", "new-checkout"},
			wantCode: cli.ExitUserError,
			wantStdout: `{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH"}
{"flag":"new-checkout","variant":"off","value":false,"reason":"DEFAULT"}
`,
			wantStderr: "weir: testdata/bad-contexts.jsonl: line 3: column 39: invalid character '}' looking for beginning of value\n",
		},
		{
			name:       "a context line that is not an object is refused",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "-", "--flag", "new-checkout"},
			stdin:      "[\"user-1\"]\n",
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: <stdin>: line 1: a context must be a JSON object, not an array\n",
		},
		{
			name:       "a targeting key that is not a string is refused",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--context", `{"targetingKey": 42}`},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: --context: targetingKey must be a string, not a number\n",
		},
		{
			name:       "an unknown environment names the known ones",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "staging", "--context", `{}`},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: unknown environment \"staging\" in testdata/valid.yaml (known: development, production)\n",
		},
		{
			name:     "an invalid flags file lists its problems and evaluates nothing",
			args:     []string{"eval", "-f", "testdata/unknown-field.yaml", "--env", "production", "--context", `{}`},
			wantCode: cli.ExitUserError,
			wantStderr: "testdata/unknown-field.yaml: line 7: unknown field \"enabeld\" in flag\n" +
				"testdata/unknown-field.yaml: line 9: unknown field \"defualt\" in flag environment state\n" +
				"testdata/unknown-field.yaml: 2 problems\n",
		},
		{
			name:       "a missing contexts file is a user error",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "testdata/no-such-file.jsonl"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: testdata/no-such-file.jsonl: no such file\n",
		},
		{
			name:       "the flags file and the contexts cannot both come from stdin",
			args:       []string{"eval", "-f", "-", "--env", "production", "--contexts", "-"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: the flags file and the contexts cannot both be read from stdin\n",
		},
		{
			name:       "--context and --contexts exclude each other",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--context", "{}", "--contexts", "-"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: if any flags in the group [context contexts] are set none of the others can be; [context contexts] were all set\n",
		},
		{
			name:       "an empty --contexts is not read as a missing --context",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", ""},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: --contexts needs a file name, or - for stdin\n",
		},
		{
			name:       "one of --context and --contexts is required",
			args:       []string{"eval", "-f", "testdata/valid.yaml", "--env", "production"},
			wantCode:   cli.ExitUserError,
			wantStderr: "weir: at least one of the flags in the group [context contexts] is required\n",
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

// TestEvalContextsFile pins the output for a JSON Lines file in
// testdata/contexts.golden.jsonl: one line per context and flag, contexts in
// input order, blank lines skipped. Run with -update after a deliberate
// change.
func TestEvalContextsFile(t *testing.T) {
	const golden = "testdata/contexts.golden.jsonl"
	for _, source := range []string{"file", "stdin"} {
		t.Run("contexts read from a "+source+" keep their order", func(t *testing.T) {
			args := []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "testdata/contexts.jsonl"}
			stdin := ""
			if source == "stdin" {
				args[len(args)-1] = "-"
				stdin = readFixture(t, "testdata/contexts.jsonl")
			}
			code, stdout, stderr := run(t, stdin, args...)
			if code != cli.ExitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr %q", code, stderr)
			}
			if *update && source == "file" {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFixture(t, golden); stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
			}
			// Three contexts (the blank line is skipped) × three flags, in
			// the order of the targeting keys in the input.
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(lines) != 9 || !strings.Contains(lines[2], `"variant":"on"`) ||
				!strings.Contains(lines[5], `"ruleId":"beta"`) || !strings.Contains(lines[8], `"reason":"DEFAULT"`) {
				t.Errorf("lines out of order:\n%s", stdout)
			}
		})
	}
}

func TestEvalExplainAddsATrace(t *testing.T) {
	code, stdout, stderr := run(t, "", "eval", "-f", "testdata/valid.yaml", "--env", "production",
		"--context", `{"targetingKey":"user-9","country":"CA"}`, "--flag", "new-checkout", "--explain")
	if code != cli.ExitOK {
		t.Fatalf("exit code %d, stderr %s", code, stderr)
	}
	var line struct {
		Flag   string `json:"flag"`
		Reason string `json:"reason"`
		RuleID string `json:"ruleId"`
		Trace  []struct {
			Depth   int    `json:"depth"`
			What    string `json:"what"`
			Outcome string `json:"outcome"`
			Why     string `json:"why"`
		} `json:"trace"`
	}
	if err := json.Unmarshal([]byte(stdout), &line); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
	}
	if line.Flag != "new-checkout" || line.Reason != "SPLIT" || line.RuleID != "canada" {
		t.Errorf("result %+v, want a split by rule canada", line)
	}
	if len(line.Trace) < 3 || line.Trace[0].What != `flag "new-checkout"` {
		t.Fatalf("trace %+v, want steps starting at the flag", line.Trace)
	}
	found := false
	for _, s := range line.Trace {
		if s.What == `country in ["CA"]` && s.Outcome == "matched" && s.Depth == 2 {
			found = true
		}
	}
	if !found {
		t.Errorf("trace has no matched country clause: %+v", line.Trace)
	}
}
