package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/server"
)

const sdkFlags = `
environments:
  - key: development
  - key: production
    holdout: {weight: 30000}
segments:
  - key: staff
    description: people who work here
    included: [ann]
flags:
  - key: checkout
    description: the new checkout
    owner: payments
    kind: release
    tags: [payments]
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        offVariant: off
        targets: {on: [vip]}
        rules:
          - id: staff
            description: dogfooding
            when: [{op: inSegment, values: [staff]}]
            serve: {variant: on}
        default: {split: {on: 50, off: 50}, experiment: checkout-test}
      development: {enabled: true, default: {variant: on}}
  - key: banner
    type: string
    variants: {a: "A", b: "B"}
    environments:
      development: {enabled: true, default: {variant: b}}
`

func sdkGet(t *testing.T, url, key string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func decodeSDKSnapshot(t *testing.T, body []byte) (server.SDKSnapshot, *eval.Snapshot, *flagmodel.File) {
	t.Helper()
	var doc server.SDKSnapshot
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	file, err := flagmodel.Parse(doc.File)
	if err != nil {
		t.Fatalf("the file does not parse: %v", err)
	}
	for i := range file.Flags {
		for _, st := range file.Flags[i].Environments {
			st.Version = doc.FlagVersions[file.Flags[i].Key]
		}
	}
	snap, err := eval.Prepare(file, doc.Environment)
	if err != nil {
		t.Fatalf("the file does not prepare: %v", err)
	}
	return doc, snap, file
}

func TestTheSDKSnapshotHoldsOnlyTheKeysEnvironmentAndEvaluatesLikeTheServer(t *testing.T) {
	f := newFixture(t)
	f.apply(sdkFlags)
	key := f.sdkKey("production")
	resp, body := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	doc, snap, file := decodeSDKSnapshot(t, body)
	if doc.Environment != "production" || doc.Version != f.srv.AuditSeq() {
		t.Errorf("environment %q version %d, want production %d", doc.Environment, doc.Version, f.srv.AuditSeq())
	}
	if got, want := resp.Header.Get("ETag"), `"`+strconv.FormatInt(doc.Version, 10)+`"`; got != want {
		t.Errorf("ETag %s, want %s", got, want)
	}
	for _, leak := range []string{"development", "the new checkout", "payments", "people who work here", "dogfooding", "weir_"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the snapshot contains %q: %s", leak, body)
		}
	}
	if len(file.Environments) != 1 || len(file.Flags) != 2 {
		t.Errorf("environments %v, %d flags", file.Environments, len(file.Flags))
	}
	server := f.srv.Snapshot("production")
	contexts := []*eval.Context{nil, {TargetingKey: "vip"}, {TargetingKey: "ann"}}
	heldOut := 0
	for i := range 200 { // the holdout keeps about 30% of them out of the experiment
		c := &eval.Context{TargetingKey: "u" + strconv.Itoa(i)}
		contexts = append(contexts, c)
		if server.Evaluate("checkout", c).Allocation == nil {
			heldOut++
		}
	}
	if heldOut < 30 || heldOut > 90 {
		t.Errorf("%d of 200 units held out, want about 60", heldOut)
	}
	for _, flag := range []string{"checkout", "banner", "missing"} {
		for _, c := range contexts {
			got, want := snap.Evaluate(flag, c), server.Evaluate(flag, c)
			if !sameResult(got, want) {
				t.Errorf("%s for %v: SDK %+v, server %+v", flag, c, got, want)
			}
		}
	}
	if r := snap.Evaluate("checkout", nil); r.Version == 0 {
		t.Errorf("the flag version is lost: %+v", r)
	}
}

// sameResult compares results, allocations by content (each snapshot has
// its own).
func sameResult(a, b eval.Result) bool {
	if (a.Allocation == nil) != (b.Allocation == nil) || a.Allocation != nil && *a.Allocation != *b.Allocation {
		return false
	}
	a.Allocation, b.Allocation = nil, nil
	return a == b
}

func TestTheSDKSnapshotIsTheSameDocumentCompressedOrNot(t *testing.T) {
	f := newFixture(t)
	f.apply(sdkFlags)
	key := f.sdkKey("production")
	// Setting Accept-Encoding stops the client from decompressing.
	zipped, zbody := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key, "Accept-Encoding", "gzip")
	if zipped.StatusCode != 200 || zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("with gzip accepted: status %d, Content-Encoding %q", zipped.StatusCode, zipped.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{"identity", "gzip;q=0, identity"} {
		// The shared decompressed copy is gone after a collection and
		// comes back from the compressed one.
		runtime.GC()
		plain, body := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key, "Accept-Encoding", accept)
		if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" {
			t.Fatalf("Accept-Encoding %q: status %d, Content-Encoding %q", accept, plain.StatusCode, plain.Header.Get("Content-Encoding"))
		}
		if !bytes.Equal(body, unzipped) {
			t.Errorf("Accept-Encoding %q: the plain document differs from the decompressed one:\n%s\n%s", accept, body, unzipped)
		}
		if plain.Header.Get("ETag") != zipped.Header.Get("ETag") || !strings.Contains(plain.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("ETag %q and %q, Vary %q", plain.Header.Get("ETag"), zipped.Header.Get("ETag"), plain.Header.Get("Vary"))
		}
	}
	if len(zbody) >= len(unzipped) {
		t.Errorf("compressed %d bytes, plain %d", len(zbody), len(unzipped))
	}
}

func TestTheSDKSnapshotAnswersNotModifiedUntilItsEnvironmentChanges(t *testing.T) {
	f := newFixture(t)
	f.apply(sdkFlags)
	key := f.sdkKey("production")
	resp, _ := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key)
	etag := resp.Header.Get("ETag")
	if resp, _ := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("same ETag: status %d, want 304", resp.StatusCode)
	}
	// A change to another environment keeps the version.
	if code, out := f.do("POST", "/api/v1/flags/banner/environments/development/disable", `{"reason":"test"}`); code != 200 {
		t.Fatalf("disable: %d %v", code, out)
	}
	if resp, _ := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("after a development change: status %d, want 304", resp.StatusCode)
	}
	if code, out := f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"test"}`); code != 200 {
		t.Fatalf("disable: %d %v", code, out)
	}
	resp, body := sdkGet(t, f.ts.URL+"/sdk/v1/snapshot", key, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a production change: status %d ETag %s (was %s)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	_, snap, _ := decodeSDKSnapshot(t, body)
	if r := snap.Evaluate("checkout", &eval.Context{TargetingKey: "vip"}); r.Reason != eval.ReasonDisabled {
		t.Errorf("the new snapshot serves %+v, want DISABLED", r)
	}
}

func TestTheSDKEndpointsTakeOnlySDKKeys(t *testing.T) {
	f := newFixture(t)
	key := f.sdkKey("development")
	for _, path := range []string{"/sdk/v1/snapshot", "/sdk/v1/stream"} {
		for _, c := range []struct {
			name, header, value string
			want                int
		}{
			{"no key", "", "", 401},
			{"an unknown key", "Authorization", "Bearer weir_sdk_nope", 401},
			{"an admin token", "Authorization", "Bearer " + adminToken, 403},
			{"an SDK key in X-API-Key", "X-API-Key", key, 200},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+path, nil)
			if c.header != "" {
				req.Header.Set(c.header, c.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.want {
				t.Errorf("%s with %s: status %d, want %d", path, c.name, resp.StatusCode, c.want)
			}
			if c.want != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s with %s: content type %q, want a problem document", path, c.name, resp.Header.Get("Content-Type"))
			}
			resp.Body.Close()
			cancel()
		}
	}
}

// sseEvent is one dispatched event, or a comment.
type sseEvent struct {
	comment, event, id, data string
}

// stream opens GET /sdk/v1/stream and returns a function reading the next
// event or comment.
func openStream(t *testing.T, url, key string, headers ...string) (next func() sseEvent, closeFn func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/sdk/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("stream: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	next = func() sseEvent {
		t.Helper()
		var ev sseEvent
		timeout := time.After(5 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatal("the stream ended")
				}
				switch {
				case line == "":
					return ev
				case strings.HasPrefix(line, ":"):
					ev.comment = strings.TrimSpace(line[1:])
				case strings.HasPrefix(line, "event: "):
					ev.event = line[len("event: "):]
				case strings.HasPrefix(line, "id: "):
					ev.id = line[len("id: "):]
				case strings.HasPrefix(line, "data: "):
					ev.data += line[len("data: "):]
				}
			case <-timeout:
				t.Fatal("no event within 5s")
			}
		}
	}
	return next, func() { cancel(); resp.Body.Close() }
}

func TestTheStreamSendsTheSnapshotThenEveryChangeOfTheEnvironment(t *testing.T) {
	f := newFixture(t)
	f.apply(sdkFlags)
	key := f.sdkKey("production")
	next, closeStream := openStream(t, f.ts.URL, key)
	first := next()
	if first.event != "snapshot" || first.id != strconv.FormatInt(f.srv.AuditSeq(), 10) {
		t.Fatalf("first event %q id %q, want snapshot %d", first.event, first.id, f.srv.AuditSeq())
	}
	decodeSDKSnapshot(t, []byte(first.data))
	if got := f.metric("weir_sse_connections"); got != 1 {
		t.Errorf("weir_sse_connections = %v, want 1", got)
	}

	// A development change sends nothing; the production change after it
	// arrives as the next event.
	f.do("POST", "/api/v1/flags/banner/environments/development/disable", `{"reason":"test"}`)
	f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"test"}`)
	ev := next()
	if ev.event != "snapshot" || ev.id != strconv.FormatInt(f.srv.AuditSeq(), 10) {
		t.Fatalf("change event %+v, want snapshot %d", ev, f.srv.AuditSeq())
	}
	doc, snap, _ := decodeSDKSnapshot(t, []byte(ev.data))
	if strconv.FormatInt(doc.Version, 10) != ev.id {
		t.Errorf("data version %d, event id %s", doc.Version, ev.id)
	}
	if r := snap.Evaluate("checkout", nil); r.Reason != eval.ReasonDisabled {
		t.Errorf("after disabling: %+v", r)
	}

	closeStream()
	deadline := time.Now().Add(5 * time.Second)
	for f.metric("weir_sse_connections") != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := f.metric("weir_sse_connections"); got != 0 {
		t.Errorf("weir_sse_connections = %v after closing, want 0", got)
	}
}

func TestAStreamResumedAtTheCurrentVersionDoesNotResendTheSnapshot(t *testing.T) {
	f := newFixture(t)
	f.apply(sdkFlags)
	key := f.sdkKey("production")
	current := strconv.FormatInt(f.srv.AuditSeq(), 10)

	next, closeStream := openStream(t, f.ts.URL, key, "Last-Event-ID", current)
	defer closeStream()
	if ev := next(); ev.event != "" || ev.data != "" {
		t.Fatalf("resumed at the current version, got %+v; want only a comment", ev)
	}
	f.do("POST", "/api/v1/flags/checkout/environments/production/disable", `{"reason":"test"}`)
	if ev := next(); ev.event != "snapshot" || ev.id == current {
		t.Fatalf("after a change: %+v", ev)
	}

	older, closeOlder := openStream(t, f.ts.URL, key, "Last-Event-ID", current)
	defer closeOlder()
	if ev := older(); ev.event != "snapshot" || ev.id != strconv.FormatInt(f.srv.AuditSeq(), 10) {
		t.Fatalf("resumed at an older version, got %+v; want the current snapshot", ev)
	}
}

func TestAnIdleStreamGetsHeartbeatsAndEndsWhenTheServerStopsStreams(t *testing.T) {
	f := newFixture(t)
	key := f.sdkKey("production")
	srv, err := server.New(server.Options{Store: f.st, SDKHeartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	next, closeStream := openStream(t, ts.URL, key)
	defer closeStream()
	if ev := next(); ev.event != "snapshot" {
		t.Fatalf("first: %+v", ev)
	}
	for i := 0; i < 2; i++ {
		if ev := next(); ev.comment != "ping" {
			t.Fatalf("heartbeat %d: %+v", i, ev)
		}
	}
	srv.StopStreams()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/sdk/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new stream after StopStreams: %d, want 503", resp.StatusCode)
	}
}
