package cli_test

import (
	"strings"
	"testing"
)

// These refusals happen before any request: no server is needed.
func TestExperimentCommandsRefuseBadInputBeforeAsking(t *testing.T) {
	t.Setenv("WEIR_SERVER", "http://127.0.0.1:1")
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantStderr string
	}{
		{"an experiment file with problems lists them all", "key: x\nenvironment: production\nflag: f\ncontrol: a\ntreatments: [a]\nallocation: -1\n",
			[]string{"experiment", "create", "-f", "-"},
			"<stdin>: treatments[0]: \"a\" is the control; a treatment must differ from it\n<stdin>: allocation: -1 is not a share of units"},
		{"an experiment file with an unknown field names its line", "key: x\nlayers: [a]\n",
			[]string{"experiment", "create", "-f", "-"}, `<stdin>: line 2: unknown field "layers" in experiment`},
		{"a metric file with problems", "key: ctr\ntype: ratio\n", []string{"metric", "create", "-f", "-"},
			"<stdin>: numerator: event name is required\n<stdin>: denominator: event name is required\n<stdin>: 2 problems"},
		{"an unknown outcome", "", []string{"experiment", "decide", "x", "--outcome", "maybe", "--reason", "r"},
			`--outcome "maybe": want ship, rollback or iterate`},
		{"a ship without its variant", "", []string{"experiment", "decide", "x", "--outcome", "ship", "--reason", "r"},
			"--variant is required to ship"},
		{"a rollback that sets a default", "", []string{"experiment", "decide", "x", "--outcome", "rollback", "--set-default", "--reason", "r"},
			"--variant and --set-default only go with --outcome ship"},
		{"a stop without a reason", "", []string{"experiment", "stop", "x", "--reason", " "}, "--reason is required"},
		{"negative daily units", "", []string{"experiment", "start", "x", "--daily-units", "-5"}, "--daily-units: a number of units, 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.stdin, tt.args...)
			if code != 1 || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and\n%s", code, stderr, tt.wantStderr)
			}
		})
	}
}
