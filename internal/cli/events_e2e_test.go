package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to read the database the server wrote

	"github.com/weirhq/weir/internal/cli"
)

// adminCall sends a request with the admin token and decodes the JSON
// answer, failing the test unless the status is want.
func adminCall(t *testing.T, base, method, path, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func sdkKeyOf(t *testing.T, base, env string) string {
	t.Helper()
	out := adminCall(t, base, "POST", "/api/v1/keys", `{"scope":"sdk","env":"`+env+`","name":"e2e"}`, http.StatusCreated)
	return out["secret"].(string)
}

// postBatch posts a batch and returns the status and the answer; err is
// set when no answer came (the server is down).
func postBatch(ctx context.Context, client *http.Client, base, key, body string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/events/v1/batch", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-API-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// waitForMetric waits until the server's /metrics has the line want.
func waitForMetric(t *testing.T, base, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(raw), "\n") {
				if line == want {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("/metrics never showed %q", want)
}

// crashBatch is batch i of the crash test: 5 exposures and 5 track events
// named after the batch, so that the stats of metric m-i say how often
// the batch is stored.
func crashBatch(i int) string {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"crash-%d","events":[`, i)
	for j := range 5 {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"kind":"exposure","time":%q,"unit":"u-%d-%d","flag":"checkout","variant":"on","flagVersion":1},`, now, i, j)
		fmt.Fprintf(&b, `{"kind":"track","time":%q,"unit":"u-%d-%d","name":"m-%d","value":1}`, now, i, j, i)
	}
	b.WriteString("]}")
	return b.String()
}

// TestAcknowledgedEventBatchesSurviveSIGKILLExactlyOnce sends batches
// from several senders at once, kills the server with SIGKILL in the
// middle, restarts it on the same database, and sends again every batch
// that was not acknowledged and some that were (a sender that lost an
// answer retries). Every batch must then be stored exactly once.
func TestAcknowledgedEventBatchesSurviveSIGKILLExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server; skipped with -short")
	}
	bin := buildWeir(t)
	db := filepath.Join(t.TempDir(), "weir.db")
	srv := startServer(t, bin, db)
	key := sdkKeyOf(t, srv.url, "production")

	const batches = 400
	client := &http.Client{Timeout: 5 * time.Second}
	var (
		mu    sync.Mutex
		acked = map[int]bool{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range batches {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range next {
				status, out, err := postBatch(ctx, client, srv.url, key, crashBatch(i))
				if err == nil && status == http.StatusAccepted && out["accepted"] == 10.0 {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		})
	}
	// Kill once some batches are acknowledged, while the senders still run.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = srv.stop(t, syscall.SIGKILL)
	time.Sleep(50 * time.Millisecond) // the senders' requests now fail
	cancel()
	wg.Wait()
	if len(acked) == 0 || len(acked) == batches {
		t.Fatalf("%d of %d batches acknowledged before the kill; the kill must fall in the middle", len(acked), batches)
	}

	srv = startServer(t, bin, db)
	resent, retriedAcked := 0, 0
	for i := range batches {
		if acked[i] && i%3 != 0 {
			continue
		}
		status, out, err := postBatch(context.Background(), client, srv.url, key, crashBatch(i))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("resending batch %d after the restart: %d %v %v", i, status, out, err)
		}
		resent++
		if acked[i] {
			retriedAcked++
			if out["duplicate"] != true {
				t.Errorf("batch %d was acknowledged before the kill, but its retry was stored again: %v", i, out)
			}
		}
	}

	st := adminCall(t, srv.url, "GET", "/api/v1/environments/production/events/stats?window=1h", "", http.StatusOK)
	counts := map[string]float64{}
	for _, m := range st["metrics"].([]any) {
		mc := m.(map[string]any)
		counts[mc["name"].(string)] = mc["events"].(float64)
	}
	for i := range batches {
		if n := counts[fmt.Sprintf("m-%d", i)]; n != 5 {
			t.Errorf("batch %d (acknowledged before the kill: %v) is stored %v times over, want exactly once (5 events)", i, acked[i], n/5)
		}
	}
	if st["batches"] != float64(batches) || st["exposures"] != float64(5*batches) || st["tracks"] != float64(5*batches) {
		t.Errorf("stats %v %v %v, want %d batches and %d exposures and track events", st["batches"], st["exposures"], st["tracks"], batches, 5*batches)
	}
	t.Logf("%d of %d batches acknowledged before SIGKILL; %d sent again after the restart, %d of them acknowledged before",
		len(acked), batches, resent, retriedAcked)
	if err := srv.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("weir serve after SIGINT: %v", err)
	}
}

// Markers the privacy test sends and then looks for.
const (
	markerUnit     = "unitid-3f9c2a-marker"
	markerEmail    = "email-3f9c2a-marker@example.com"
	markerUnlisted = "coupon-3f9c2a-marker"
	allowedValue   = "plan-3f9c2a-allowed"
)

// TestNoRawUnitOrUnallowedPropertyReachesTheDatabaseOrTheLogs sends
// events whose units and properties hold marker strings, then reads the
// database files and the server's logs (at debug level): no unit, no
// private attribute's value and no property outside the allow-list may be
// found, while the allowed property is (so the search does find stored
// text). The exposures and track events of one unit carry one token.
func TestNoRawUnitOrUnallowedPropertyReachesTheDatabaseOrTheLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server; skipped with -short")
	}
	bin := buildWeir(t)
	db := filepath.Join(t.TempDir(), "weir.db")
	srv := startServer(t, bin, db, "--log-level", "debug")
	adminCall(t, srv.url, "POST", "/api/v1/apply?reason=privacy",
		"environments:\n  - key: production\n    privateAttributes: [email]\n    eventProperties: [plan]\n", http.StatusOK)
	key := sdkKeyOf(t, srv.url, "production")

	// A tail records what is stored, tokens included.
	tailCtx, stopTail := context.WithCancel(context.Background())
	defer stopTail()
	var tailOut, tailErr bytes.Buffer
	tailDone := make(chan int, 1)
	go func() {
		tailDone <- cli.Run(tailCtx, []string{"events", "tail", "--env", "production", "-n", "4", "-o", "json",
			"--server", srv.url, "--token", testAdminToken}, strings.NewReader(""), &tailOut, &tailErr)
	}()
	waitForMetric(t, srv.url, "weir_event_tail_subscribers 1")

	now := time.Now().UTC().Format(time.RFC3339Nano)
	props := fmt.Sprintf(`{"plan":%q,"email":%q,"coupon":%q}`, allowedValue, markerEmail, markerUnlisted)
	good := fmt.Sprintf(`{"id":"privacy-1","events":[
		{"kind":"exposure","time":%[1]q,"unit":%[2]q,"flag":"checkout","variant":"on","flagVersion":1,"reason":"SPLIT","experiment":"checkout-test"},
		{"kind":"track","time":%[1]q,"unit":%[2]q,"name":"purchase","value":9.5,"properties":%[3]s},
		{"kind":"exposure","time":%[1]q,"unit":"someone-else","flag":"checkout","variant":"off","flagVersion":1},
		{"kind":"track","time":%[1]q,"unit":"someone-else","name":"purchase"}]}`, now, markerUnit, props)
	// An invalid batch with the same markers: refused, and not logged.
	bad := fmt.Sprintf(`{"id":"privacy-2","events":[{"kind":"track","time":%q,"unit":%q,"name":"bad name","properties":%s}]}`, now, markerUnit, props)
	client := &http.Client{Timeout: 10 * time.Second}
	if status, out, err := postBatch(context.Background(), client, srv.url, key, good); err != nil || status != http.StatusAccepted || out["droppedProperties"] != 2.0 {
		t.Fatalf("good batch: %d %v %v, want 202 with 2 dropped properties", status, out, err)
	}
	if status, _, err := postBatch(context.Background(), client, srv.url, key, bad); err != nil || status != http.StatusBadRequest {
		t.Fatalf("bad batch: %d %v", status, err)
	}

	select {
	case code := <-tailDone:
		if code != 0 {
			t.Fatalf("tail exited %d: %s", code, tailErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tail did not see four events")
	}
	// The tail shows each stored event with its unit's token: the
	// exposure and the track event of one unit carry the same token, and
	// another unit another.
	tokens := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(tailOut.String()), "\n") {
		var ev struct{ Unit, Kind string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("tail line %q: %v", line, err)
		}
		if len(ev.Unit) != 32 {
			t.Fatalf("unit %q is not a 16-byte token in hex", ev.Unit)
		}
		tokens[ev.Kind] = append(tokens[ev.Kind], ev.Unit)
	}
	exposures, tracks := tokens["exposure"], tokens["track"]
	if len(exposures) != 2 || len(tracks) != 2 || exposures[0] != tracks[0] || exposures[1] != tracks[1] || exposures[0] == exposures[1] {
		t.Fatalf("exposure tokens %v, track tokens %v: each unit's two events must share a token, the two units must not", exposures, tracks)
	}
	// And in the database they join.
	rodb, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var joined int
	err = rodb.QueryRow(`SELECT count(*) FROM exposures e JOIN tracks t ON t.env = e.env AND t.unit = e.unit WHERE e.env = 'production'`).Scan(&joined)
	rodb.Close()
	if err != nil || joined != 2 {
		t.Fatalf("%d exposures join a track event of their unit (%v), want 2", joined, err)
	}

	// While the server runs, recent writes are in the write-ahead log.
	checkFiles := func(when string) {
		var all []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			raw, err := os.ReadFile(db + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, raw...)
		}
		for _, m := range []string{markerUnit, markerEmail, markerUnlisted} {
			if bytes.Contains(all, []byte(m)) {
				t.Errorf("%s: the database files contain %q", when, m)
			}
		}
		if !bytes.Contains(all, []byte(allowedValue)) {
			t.Errorf("%s: the allowed property %q is not in the database files: the search cannot be trusted", when, allowedValue)
		}
	}
	checkFiles("while serving")
	if err := srv.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("weir serve after SIGINT: %v", err)
	}
	checkFiles("after shutdown")
	logs := srv.stderr.String()
	if !strings.Contains(logs, "level=DEBUG") && !strings.Contains(logs, "level=INFO") {
		t.Fatalf("no logs captured at debug level: %q", logs)
	}
	for _, m := range []string{markerUnit, markerEmail, markerUnlisted, key} {
		if strings.Contains(logs, m) {
			t.Errorf("the server's logs contain %q:\n%s", m, logs)
		}
	}
}
