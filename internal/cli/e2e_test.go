package cli_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds the real weir binary and runs validate and eval as a
// subprocess, checking the exit codes a shell or CI job sees.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "weir")
	build := exec.Command("go", "build", "-o", bin, "github.com/weirhq/weir/cmd/weir")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string // a substring
		wantStderr string // a substring
	}{
		{name: "validate accepts a valid file", args: []string{"validate", "-f", "testdata/valid.yaml"},
			wantCode: 0, wantStdout: "testdata/valid.yaml is valid: 2 environments"},
		{name: "validate rejects a file with problems", args: []string{"validate", "-f", "testdata/problems.yaml"},
			wantCode: 1, wantStderr: "testdata/problems.yaml: 4 problems"},
		{name: "validate reports a missing file", args: []string{"validate", "-f", "testdata/no-such-file.yaml"},
			wantCode: 1, wantStderr: "no such file"},
		{name: "eval streams contexts from stdin",
			args:  []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "-", "--flag", "new-checkout"},
			stdin: `{"targetingKey":"user-1"}` + "\n", wantCode: 0,
			wantStdout: `{"flag":"new-checkout","variant":"on","value":true,"reason":"TARGETING_MATCH"}`},
		{name: "eval stops at a bad context line",
			args:     []string{"eval", "-f", "testdata/valid.yaml", "--env", "production", "--contexts", "testdata/bad-contexts.jsonl"},
			wantCode: 1, wantStderr: "testdata/bad-contexts.jsonl: line 3: "},
		{name: "eval refuses an unknown environment",
			args:     []string{"eval", "-f", "testdata/valid.yaml", "--env", "staging", "--context", "{}"},
			wantCode: 1, wantStderr: "known: development, production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
