package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const statsBody = `{"environment":"production","from":"2026-11-21T12:00:00Z","to":"2026-11-22T12:00:00Z",
"exposures":1200,"tracks":800,"batches":20,"senderDropped":3,"lastEvent":"2026-11-22T11:59:58Z",
"flags":[{"flag":"checkout","variant":"control","experiment":"checkout-test","exposures":600},
         {"flag":"checkout","variant":"treatment","experiment":"checkout-test","exposures":600}],
"metrics":[{"name":"purchase","events":800,"withValue":790,"sum":1234.5}],
"intake":{"scope":"process","since":"2026-11-22T10:00:00Z","acceptedBatches":21,"acceptedEvents":2100,"duplicateBatches":1,
  "rejectedBatches":2,"rejectedEvents":7,"throttledBatches":4,"throttledEvents":4000,"failedBatches":0,
  "reasons":{"stored":20,"duplicate":1,"invalid":2,"too_large":0,"quota":1,"queue_full":3,"error":0}}}`

// serveEvents answers the stats and tail routes with canned bodies and
// records the queries it got.
func serveEvents(t *testing.T, tail string) (string, *[]string) {
	t.Helper()
	var queries []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer weir_admin_x" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"title":"Unauthorized","status":401,"detail":"an admin token is required"}`)
			return
		}
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		switch r.URL.Path {
		case "/api/v1/environments/production/events/stats":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, statsBody)
		case "/api/v1/environments/production/events/tail":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, tail)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title":"Not found","status":404,"detail":"environment \"nowhere\": not found"}`)
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &queries
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestEventsStatsPrintsATableOrTheServersJSON(t *testing.T) {
	url, queries := serveEvents(t, "")
	code, out, errs := run("events", "stats", "--env", "production", "--window", "7d", "--server", url, "--token", "weir_admin_x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"Events of production from 2026-11-21T12:00:00Z to 2026-11-22T12:00:00Z",
		"  exposures                  1200\n", "  track events                800\n", "  dropped by senders            3\n",
		"  last event           2026-11-22T11:59:58Z\n",
		"checkout  control    experiment checkout-test  600",
		"purchase  800     790         1234.5",
		"accepted 21 batches (2100 events, 1 of the batches duplicates), rejected 2 (7 events), throttled 4 (4000 events), failed 0",
		"refused by reason: invalid 2, queue_full 3, quota 1",
		"not stored; each replica counts its own",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if (*queries)[0] != "/api/v1/environments/production/events/stats?window=7d" {
		t.Errorf("query %q", (*queries)[0])
	}
	code, out, _ = run("events", "stats", "--env", "production", "-o", "json", "--server", url, "--token", "weir_admin_x")
	if code != 0 || !strings.HasPrefix(out, `{"environment":"production"`) {
		t.Errorf("-o json: exit %d, %q", code, out)
	}
}

func TestEventsCommandsExitCodes(t *testing.T) {
	url, _ := serveEvents(t, "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a missing --env is the user's error", []string{"events", "stats", "--server", url, "--token", "weir_admin_x"}, 1, "--env is required"},
		{"a window and a from are the user's error", []string{"events", "stats", "--env", "production", "--window", "1h", "--from", "2026-01-01T00:00:00Z", "--server", url}, 1, "not both"},
		{"a bad token is the user's error", []string{"events", "stats", "--env", "production", "--server", url, "--token", "nope"}, 1, "WEIR_TOKEN"},
		{"an unknown environment is the user's error", []string{"events", "tail", "--env", "nowhere", "--server", url, "--token", "weir_admin_x"}, 1, "not found"},
		{"an unreachable server is the environment's", []string{"events", "stats", "--env", "production", "--server", "http://127.0.0.1:1", "--token", "weir_admin_x"}, 2, "cannot reach"},
		{"a tail the server ends is the environment's", []string{"events", "tail", "--env", "production", "--server", url, "--token", "weir_admin_x"}, 2, "ended the event stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, stderr %q (stdout %q); want exit %d and %q", code, errs, out, tt.code, tt.want)
			}
		})
	}
}

func TestEventsTailPrintsOneLinePerEvent(t *testing.T) {
	tail := ": tailing events of production\n\n" +
		"event: exposure\ndata: {\"batch\":\"b-1\",\"kind\":\"exposure\",\"time\":\"2026-11-22T11:59:58.5Z\",\"unit\":\"00112233445566778899aabbccddeeff\",\"flag\":\"checkout\",\"variant\":\"treatment\",\"flagVersion\":3,\"reason\":\"SPLIT\",\"experiment\":\"checkout-test\"}\n\n" +
		": ping\n\n" +
		"event: dropped\ndata: {\"dropped\":17}\n\n" +
		"event: track\ndata: {\"batch\":\"b-1\",\"kind\":\"track\",\"time\":\"2026-11-22T11:59:59Z\",\"unit\":\"00112233445566778899aabbccddeeff\",\"name\":\"purchase\",\"value\":12.5,\"properties\":{\"plan\":\"pro\"}}\n\n" +
		"event: track\ndata: {\"batch\":\"b-2\",\"kind\":\"track\",\"time\":\"2026-11-22T12:00:00Z\",\"unit\":\"ff\",\"name\":\"signup\"}\n\n"
	url, _ := serveEvents(t, tail)
	code, out, errs := run("events", "tail", "--env", "production", "-n", "2", "--server", url, "--token", "weir_admin_x")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "2026-11-22T11:59:58.500Z  exposure  unit=00112233445566778899aabbccddeeff  checkout=treatment v3 SPLIT experiment=checkout-test  batch=b-1\n" +
		"2026-11-22T11:59:59.000Z  track     unit=00112233445566778899aabbccddeeff  purchase value=12.5 {\"plan\":\"pro\"}  batch=b-1\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errs, "17 events not shown") {
		t.Errorf("stderr %q does not report the dropped events", errs)
	}
	code, out, _ = run("events", "tail", "--env", "production", "-n", "1", "-o", "json", "--server", url, "--token", "weir_admin_x")
	if code != 0 || !strings.HasPrefix(out, `{"batch":"b-1","kind":"exposure"`) || strings.Count(out, "\n") != 1 {
		t.Errorf("-o json: exit %d, %q", code, out)
	}
}
