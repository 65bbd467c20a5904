package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashFlag is the flags file the crash test applies, with a different
// target list each time so every apply is a change.
func crashFlag(i int) string {
	return fmt.Sprintf(`flags:
  - key: crash
    type: boolean
    variants: {"on": true, "off": false}
    environments:
      production:
        enabled: true
        targets: {"on": [user-%d]}
        default: {variant: "off"}
`, i)
}

// TestAcknowledgedChangesSurviveSIGKILL applies changes in a loop, kills
// the server with SIGKILL in the middle, restarts it on the same database
// and checks that every change the server acknowledged is in the history,
// with versions 1..N and no gap.
func TestAcknowledgedChangesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server; skipped with -short")
	}
	bin := buildWeir(t)
	db := filepath.Join(t.TempDir(), "weir.db")
	srv := startServer(t, bin, db)

	client := &http.Client{Timeout: 5 * time.Second}
	apply := func(ctx context.Context, base string, i int) (version int64, ok bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/apply?reason=crash-test", strings.NewReader(crashFlag(i)))
		if err != nil {
			return 0, false
		}
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, false
		}
		var res struct {
			Changed bool `json:"changed"`
			Plan    []struct {
				Op   string `json:"op"`
				Kind string `json:"kind"`
			} `json:"plan"`
			Versions []int64 `json:"versions"`
		}
		if json.Unmarshal(body, &res) != nil || !res.Changed {
			return 0, false
		}
		// Versions are those of the changed items, in plan order.
		n := 0
		for _, it := range res.Plan {
			if it.Op == "unchanged" {
				continue
			}
			if it.Kind == "flag-state" && n < len(res.Versions) {
				return res.Versions[n], true
			}
			n++
		}
		return 0, false
	}

	type ack struct {
		version int64
		target  string
	}
	var (
		mu    sync.Mutex
		acked []ack
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 200 && ctx.Err() == nil; i++ {
			if v, ok := apply(ctx, srv.url, i); ok {
				mu.Lock()
				acked = append(acked, ack{v, fmt.Sprintf("user-%d", i)})
				mu.Unlock()
			}
		}
	}()
	// Kill once a few changes are acknowledged, while the loop still runs.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = srv.stop(t, syscall.SIGKILL)
	// The loop's requests now fail; let it run out, then stop it.
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no change was acknowledged before the kill")
	}

	srv = startServer(t, bin, db)
	req, err := http.NewRequest(http.MethodGet, srv.url+"/api/v1/flags/crash/environments/production/history", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Versions []struct {
			Version int64           `json:"version"`
			Content json.RawMessage `json:"content"`
		} `json:"versions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("history: status %d: %v", resp.StatusCode, err)
	}
	content := map[int64][]byte{}
	for i, v := range h.Versions {
		if v.Version != int64(i+1) {
			t.Fatalf("history versions are not 1..N without gaps: position %d holds version %d", i, v.Version)
		}
		content[v.Version] = v.Content
	}
	for _, a := range acked {
		c, ok := content[a.version]
		if !ok {
			t.Errorf("acknowledged version %d (target %s) is missing after the restart; history has %d versions",
				a.version, a.target, len(h.Versions))
			continue
		}
		if !bytes.Contains(c, []byte(`"`+a.target+`"`)) {
			t.Errorf("version %d does not hold the acknowledged change (target %s): %s", a.version, a.target, c)
		}
	}
	t.Logf("%d changes acknowledged before SIGKILL; %d versions after restart", len(acked), len(h.Versions))
	if err := srv.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("weir serve after SIGINT: %v", err)
	}
}
