package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/server"
)

// FuzzAdminAPI sends arbitrary bodies to every writing endpoint: the server
// must answer with a client error or a success, never a 5xx, and every
// error must be a problem document.
func FuzzAdminAPI(f *testing.F) {
	fx := newFixture(f)
	fx.apply(checkout)
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/apply?dryRun=true"},
		{"POST", "/api/v1/apply"},
		{"PUT", "/api/v1/flags/checkout"},
		{"PUT", "/api/v1/flags/checkout/environments/production"},
		{"POST", "/api/v1/flags/checkout/environments/production/disable"},
		{"POST", "/api/v1/flags/checkout/environments/production/rollback"},
		{"PUT", "/api/v1/segments/s"},
		{"POST", "/api/v1/environments/production/evaluate"},
		{"POST", "/api/v1/keys"},
	}
	f.Add(uint8(0), []byte(checkout))
	f.Add(uint8(3), []byte(`{"state":{"enabled":true,"default":{"variant":"on"}},"expectedVersion":1}`))
	f.Add(uint8(4), []byte(`{"reason":"x"}`))
	f.Add(uint8(5), []byte(`{"to":"previous","reason":"x"}`))
	f.Add(uint8(6), []byte(`{"segment":{"rules":[{"when":[{"attribute":"a","op":"matches","values":["(a*)*"]}]}]}}`))
	f.Add(uint8(7), []byte(`{"contexts":[{"targetingKey":"vip"},{"targetingKey":5}],"explain":true}`))
	f.Add(uint8(8), []byte(`{"scope":"sdk","env":"production"}`))
	f.Add(uint8(2), []byte(`{"flag":{"type":"object","variants":{"x":{"a":[1,{"b":null}]}}}}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		r := routes[int(which)%len(routes)]
		req, _ := http.NewRequest(r.method, fx.ts.URL+r.path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, resp.StatusCode, data)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: error %d is not a problem document", r.method, r.path, resp.StatusCode)
		}
	})
}

// FuzzEventIntake posts arbitrary bodies, plain or gzip-compressed, to the
// event intake: the server must answer with a client error or 202, never
// a 5xx, and every error must be a problem document.
func FuzzEventIntake(f *testing.F) {
	fx := newEventFixture(f, server.Options{EventRateLimit: server.RateLimit{PerSecond: -1}}, ingest.Options{})
	f.Add(false, []byte(eventBatch("seed-1", 3)))
	f.Add(true, []byte(eventBatch("seed-2", 2)))
	f.Add(false, []byte(`{"id":"x","events":[{"kind":"track","time":"2026-01-01T00:00:00Z","unit":"u","name":"n","properties":{"a":[1]}}]}`))
	f.Add(false, []byte(`{"id":"x","sentAt":"1970-01-01T00:00:00Z","events":[{"kind":"exposure","time":"9999-12-31T23:59:59Z","unit":"u","flag":"f","variant":"v","flagVersion":1}]}`))
	f.Add(false, []byte(`{"id":"x","events":[{"kind":"track","time":"2026-01-01T00:00:00Z","unit":"u","name":"n","value":1e400}]}`))
	f.Add(true, []byte{0x1f, 0x8b, 0x08, 0x00})
	f.Add(false, []byte(`{"id":"x","events":null,"dropped":-1}`))
	f.Fuzz(func(t *testing.T, compress bool, body []byte) {
		headers := []string{"X-API-Key", fx.prodKey}
		if compress {
			headers = append(headers, "Content-Encoding", "gzip")
			if len(body) == 0 || body[0] != 0x1f {
				body = gzipped(t, string(body))
			}
		}
		r := postEventsTo(t, fx.ts.URL, body, headers...)
		if r.status >= 500 {
			t.Fatalf("%q (gzip %v): %d %s", body, compress, r.status, r.raw)
		}
		if r.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%q: error %d is not a problem document", body, r.status)
		}
		if r.status < 400 && r.status != http.StatusAccepted {
			t.Fatalf("%q: status %d", body, r.status)
		}
	})
}
