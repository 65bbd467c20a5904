package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/cli"
)

// testAdminToken is the admin token the test servers bootstrap with.
const testAdminToken = "tour-admin-token-0123456789"

// buildWeir builds the weir binary from the module root into a temp dir.
func buildWeir(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "weir")
	build := exec.Command("go", "build", "-o", bin, "./cmd/weir")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// weirServer is a `weir serve` subprocess.
type weirServer struct {
	cmd    *exec.Cmd
	url    string
	done   chan struct{} // closed when the process has exited
	err    error         // the result of Wait, once done is closed
	stderr *strings.Builder
}

// startServer runs `weir serve` on a random 127.0.0.1 port with the
// database db (and any further serve flags in args, which override the
// defaults) and waits for the line that names its address.
func startServer(t *testing.T, bin, db string, args ...string) *weirServer {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + db, "--log-level", "warn"}, args...)...)
	cmd.Env = append(cleanEnv(), "WEIR_ADMIN_TOKEN="+testAdminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &weirServer{cmd: cmd, done: make(chan struct{}), stderr: &strings.Builder{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "Weir is serving on "); ok && !sent {
				addr <- strings.Fields(rest)[0]
				sent = true
			}
		}
		// Reading to the end lets Wait return.
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.url = <-addr:
	case <-s.done:
		t.Fatalf("weir serve exited before serving: %v\n%s", s.err, s.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("weir serve did not print its address within 15s\n%s", s.stderr)
	}
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") {
		t.Fatalf("server address %q: want http://127.0.0.1:PORT", s.url)
	}
	return s
}

// stop sends sig and waits for the process to exit.
func (s *weirServer) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		return s.err
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit within 15s")
		return nil
	}
}

// cleanEnv is the test process's environment without WEIR_* variables, so
// a developer's own settings cannot leak into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEIR_") {
			env = append(env, kv)
		}
	}
	return env
}

// result is what a weir subprocess left behind.
type result struct {
	code           int
	stdout, stderr string
}

// runWeir runs bin with args and the given extra environment.
func runWeir(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("weir %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// TestTour runs the README tour against a real server, as a user would: a
// subprocess per command, with WEIR_SERVER and WEIR_TOKEN in the
// environment, checking outputs and exit codes.
func TestTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server; skipped with -short")
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	srv := startServer(t, bin, filepath.Join(dir, "weir.db"))
	env := []string{"WEIR_SERVER=" + srv.url, "WEIR_TOKEN=" + testAdminToken}
	flagsFile := filepath.Join("..", "..", "examples", "flags.yaml")

	// step runs one command and checks its exit code and output.
	step := func(wantCode int, wantStdout, wantStderr string, args ...string) result {
		t.Helper()
		r := runWeir(t, bin, env, args...)
		if r.code != wantCode {
			t.Fatalf("weir %s: exit code %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, wantStdout) {
			t.Errorf("weir %s: stdout does not contain %q:\n%s", strings.Join(args, " "), wantStdout, r.stdout)
		}
		if !strings.Contains(r.stderr, wantStderr) {
			t.Errorf("weir %s: stderr does not contain %q:\n%s", strings.Join(args, " "), wantStderr, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, testAdminToken) {
			t.Errorf("weir %s: the admin token appears in the output", strings.Join(args, " "))
		}
		return r
	}
	// versions returns the history of new-checkout in production.
	versions := func() []int64 {
		t.Helper()
		r := step(0, "", "", "history", "new-checkout", "--env", "production", "-o", "json")
		var h struct {
			Versions []struct {
				Version int64 `json:"version"`
			} `json:"versions"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
			t.Fatalf("history -o json: %v\n%s", err, r.stdout)
		}
		var out []int64
		for _, v := range h.Versions {
			out = append(out, v.Version)
		}
		return out
	}
	const user42 = `{"targetingKey":"user-42"}`
	evalArgs := []string{"eval", "--env", "production", "--flag", "new-checkout", "--context", user42}

	key := step(0, "weir_sdk_", "will not be shown again", "keys", "create", "--scope", "sdk", "--env", "production", "--name", "web")
	if strings.Count(strings.TrimSpace(key.stdout), "\n") != 0 {
		t.Errorf("keys create: stdout should hold only the secret, got %q", key.stdout)
	}
	step(0, "web", "", "keys", "list")

	step(0, "+ create flag-state new-checkout [production]", "", "apply", "-f", flagsFile, "--reason", "first apply")
	step(0, ": nothing to change", "", "apply", "-f", flagsFile)
	if got := versions(); len(got) != 1 {
		t.Fatalf("after applying the same file twice: versions %v, want [1]", got)
	}
	step(0, "payments-v2", "", "flag", "list")

	step(0, "new-checkout disabled in production: version 2", "",
		"flag", "disable", "new-checkout", "--env", "production", "--reason", "checkout errors")
	step(0, `"reason":"DISABLED"`, "", evalArgs...)
	step(0, "2 versions of new-checkout in production", "", "history", "new-checkout", "--env", "production")

	step(0, "to version 1: now version 3", "",
		"rollback", "new-checkout", "--env", "production", "--to", "previous", "--reason", "fixed")
	step(0, `{"flag":"new-checkout","variant":"enabled","value":true,"reason":"TARGETING_MATCH"}`, "", evalArgs...)
	if got := versions(); len(got) != 3 {
		t.Fatalf("after the rollback: versions %v, want 3 of them", got)
	}

	// Every change above is in the audit log, and its hash chain verifies.
	step(0, "flag.disable", "", "audit", "list")
	step(0, "audit log intact: ", "", "audit", "verify")

	// The server evaluates exactly like the offline evaluator prints.
	contexts := filepath.Join("testdata", "contexts.jsonl")
	remote := step(0, "", "", "eval", "--env", "production", "--contexts", contexts)
	offline := step(0, "", "", "eval", "-f", flagsFile, "--env", "production", "--contexts", contexts)
	if remote.stdout != offline.stdout || remote.stdout == "" {
		t.Errorf("eval on the server and offline differ:\nserver:\n%s\noffline:\n%s", remote.stdout, offline.stdout)
	}

	exported := step(0, "new-checkout", "", "export")
	exportFile := filepath.Join(dir, "export.yaml")
	if err := os.WriteFile(exportFile, []byte(exported.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	step(0, ": nothing to change", "", "apply", "-f", exportFile)
	exportedJSON := step(0, `"flags"`, "", "export", "-o", "json")
	exportJSONFile := filepath.Join(dir, "export.json")
	if err := os.WriteFile(exportJSONFile, []byte(exportedJSON.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	step(0, ": nothing to change", "", "apply", "-f", exportJSONFile)

	// An invalid file is refused before anything is sent.
	data, err := os.ReadFile(flagsFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "op: endsWith", "op: endsWithh", 1)
	badFile := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	step(1, "", `unknown operator "endsWithh"`, "apply", "-f", badFile)
	if got := versions(); len(got) != 3 {
		t.Fatalf("after the invalid apply: versions %v, want still 3", got)
	}

	// A server-side refusal (the reason is required) is the user's error.
	step(1, "", "--reason is required", "flag", "enable", "new-checkout", "--env", "production", "--reason", " ")
	step(1, "", `Not found: flag "no-such-flag"`, "flag", "get", "no-such-flag")

	wrong := runWeir(t, bin, []string{"WEIR_SERVER=" + srv.url, "WEIR_TOKEN=wrong-token"}, "flag", "list")
	if wrong.code != 1 || !strings.Contains(wrong.stderr, "WEIR_TOKEN") || strings.Contains(wrong.stderr, "wrong-token") {
		t.Errorf("a wrong token: exit %d, stderr %q; want exit 1, a hint about WEIR_TOKEN and not the token", wrong.code, wrong.stderr)
	}

	if err := srv.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("weir serve after SIGINT: %v, want exit 0\n%s", err, srv.stderr)
	}
	step(2, "", "cannot reach the Weir server at "+srv.url, "flag", "list")
}

// TestEvalWithoutFileOrServer checks that eval still asks for a file when no
// server is named.
func TestEvalWithoutFileOrServer(t *testing.T) {
	t.Setenv("WEIR_SERVER", "")
	var stdout, stderr strings.Builder
	code := cli.Run(context.Background(), []string{"eval", "--env", "production", "--context", "{}"}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitUserError || !strings.Contains(stderr.String(), `required flag(s) "file" not set`) {
		t.Errorf("eval without -f or --server: exit %d, stderr %q", code, stderr.String())
	}
}
