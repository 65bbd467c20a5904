package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weirhq/weir/internal/store"
)

// maxAuditPage bounds one page of the audit log.
const maxAuditPage = 1000

type auditView struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	// Diff is the stored JSON text, sent as a string so its bytes (which
	// the hash covers) arrive unchanged: a raw JSON value would be
	// re-indented and HTML-escaped by the encoder.
	Diff     string `json:"diff,omitempty"`
	Reason   string `json:"reason,omitempty"`
	PrevHash []byte `json:"prevHash"`
	Hash     []byte `json:"hash"`
}

// auditLog serves the hash-chained audit log page by page, with every field
// the hash covers, so a client can verify the chain itself instead of
// trusting the server (`weir audit verify`).
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, limit := int64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("after", "a sequence number ≥ 0")
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditPage {
			return badRequest("limit", fmt.Sprintf("between 1 and %d", maxAuditPage))
		}
		limit = n
	}
	entries, err := s.store.Audit(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := make([]auditView, 0, len(entries))
	for _, e := range entries {
		out = append(out, viewAudit(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

func viewAudit(e store.AuditEntry) auditView {
	v := auditView{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target,
		Reason: e.Reason, PrevHash: e.PrevHash, Hash: e.Hash}
	v.Diff = string(e.Diff)
	return v
}
