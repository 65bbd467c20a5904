package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/audit"
	"github.com/weirhq/weir/internal/store"
)

// chain builds n correctly hashed audit entries.
func chain(n int) []auditEntry {
	var out []auditEntry
	var prev []byte
	for i := 1; i <= n; i++ {
		e := store.AuditEntry{Seq: int64(i), Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Actor: "alice",
			Action: "apply", Target: "flag-state/x/production", Diff: json.RawMessage(`{"before":null,"after":{"enabled":true}}`), PrevHash: prev}
		e.Hash = audit.Hash(prev, e)
		prev = e.Hash
		out = append(out, auditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target,
			Diff: string(e.Diff), PrevHash: e.PrevHash, Hash: e.Hash})
	}
	return out
}

func serveAudit(t *testing.T, entries []auditEntry) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after := int64(0)
		if v := r.URL.Query().Get("after"); v != "" {
			_ = json.Unmarshal([]byte(v), &after)
		}
		page := []auditEntry{}
		for _, e := range entries {
			if e.Seq > after && len(page) < 1000 {
				page = append(page, e)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"entries": page})
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestAuditVerifyChecksTheChainAcrossPages(t *testing.T) {
	good := chain(2500) // three pages
	tampered := chain(2500)
	tampered[1700].Reason = "edited afterwards"
	removed := append(append([]auditEntry{}, chain(2500)[:999]...), chain(2500)[1000:]...)
	tests := []struct {
		name     string
		entries  []auditEntry
		wantCode int
		want     string
	}{
		{"an intact log verifies", good, 0, "audit log intact: 2500 entries"},
		{"an edited entry breaks the chain at that entry", tampered, 1, "broken at entry 1701"},
		{"a removed entry breaks the chain after it", removed, 1, "broken at entry 1001"},
		{"an empty log is reported as such", nil, 0, "the audit log is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serveAudit(t, tt.entries)
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"audit", "verify", "--server", url, "--token", "weir_admin_x"}, strings.NewReader(""), &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Fatalf("exit %d, output %q %q; want exit %d and %q", code, out.String(), errb.String(), tt.wantCode, tt.want)
			}
		})
	}
}
