package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/weirhq/weir/event"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/experiment"
	"github.com/weirhq/weir/internal/ingest"
	"github.com/weirhq/weir/internal/store"
)

// problem is an RFC 9457 problem details document.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Problems lists validation findings, each with its location.
	Problems []fieldProblem `json:"problems,omitempty"`
	// CurrentVersion accompanies 409 Conflict.
	CurrentVersion *int64 `json:"currentVersion,omitempty"`
	// Errors lists an event batch's problems with the event's index (-1
	// for the batch envelope); Truncated says there were more.
	Errors    []event.Problem `json:"errors,omitempty"`
	Truncated bool            `json:"truncated,omitempty"`
}

type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// requestError is an error in the request itself: bad JSON, a missing
// parameter, an unknown field. It maps to 400 unless status says otherwise.
type requestError struct {
	status int
	field  string
	msg    string
	// retryAfter, when set, is sent as Retry-After (whole seconds).
	retryAfter time.Duration
}

func (e *requestError) Error() string {
	if e.field != "" {
		return e.field + ": " + e.msg
	}
	return e.msg
}

func badRequest(field, msg string) error {
	return &requestError{status: http.StatusBadRequest, field: field, msg: msg}
}

// errUnauthorized and errForbidden are returned by the auth checks.
var (
	errUnauthorized = &requestError{status: http.StatusUnauthorized, msg: "an admin token is required (Authorization: Bearer …)"}
	errForbidden    = &requestError{status: http.StatusForbidden, msg: "this key may not do that"}
)

// writeError is the one mapping from errors to HTTP statuses.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problem{Instance: r.URL.Path}
	var re *requestError
	var ve *flagmodel.ValidationError
	var ce *store.ConflictError
	var eve *event.ValidationError
	var refused *experiment.RefusedError
	switch {
	case errors.As(err, &re):
		p.Status, p.Title, p.Detail = re.status, http.StatusText(re.status), re.Error()
		if re.field != "" {
			p.Problems = []fieldProblem{{Field: re.field, Message: re.msg}}
		}
		if re.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(re.retryAfter)))
		}
	case errors.As(err, &eve):
		p.Status, p.Title = http.StatusBadRequest, "Invalid event batch"
		p.Detail = "the batch was not stored; fix every listed problem and send it again"
		p.Errors, p.Truncated = eve.Problems, eve.Truncated
		for _, ep := range eve.Problems {
			p.Problems = append(p.Problems, fieldProblem{Field: ep.Where(), Message: ep.Message})
		}
	case errors.Is(err, event.ErrTooLarge):
		p.Status, p.Title, p.Detail = http.StatusRequestEntityTooLarge, "Batch too large", err.Error()
	case errors.Is(err, ingest.ErrQueueFull):
		p.Status, p.Title = http.StatusTooManyRequests, "Intake busy"
		p.Detail = "the event queue is full; send the batch again after the Retry-After delay"
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(queueFullRetryAfter)))
	case errors.Is(err, ingest.ErrStopped):
		p.Status, p.Title, p.Detail = http.StatusServiceUnavailable, "Shutting down", "the server is shutting down; send the batch again shortly"
		w.Header().Set("Retry-After", "1")
	case errors.As(err, &ve):
		p.Status, p.Title = http.StatusUnprocessableEntity, "Invalid configuration"
		p.Detail = "the change would make the configuration invalid"
		for _, vp := range ve.Problems {
			p.Problems = append(p.Problems, fieldProblem{Field: vp.Where, Message: vp.Message})
		}
	case errors.As(err, &ce):
		p.Status, p.Title, p.Detail = http.StatusConflict, "Version conflict", ce.Error()
		cur := ce.Current
		p.CurrentVersion = &cur
	case errors.As(err, &refused):
		p.Status, p.Title, p.Detail = http.StatusConflict, "Not allowed now", refused.Error()
	case errors.Is(err, store.ErrNotFound):
		p.Status, p.Title, p.Detail = http.StatusNotFound, "Not found", err.Error()
	case errors.Is(err, store.ErrConflict):
		p.Status, p.Title, p.Detail = http.StatusConflict, "Version conflict", err.Error()
	case errors.Is(err, store.ErrInvalid):
		p.Status, p.Title, p.Detail = http.StatusUnprocessableEntity, "Invalid change", err.Error()
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away (an event batch may still be stored; its
		// retry will say so). Nobody reads this answer: no error log.
		p.Status, p.Title, p.Detail = http.StatusServiceUnavailable, "Request abandoned", "the request was abandoned before it completed"
	case errors.Is(err, store.ErrUnavailable):
		p.Status, p.Title, p.Detail = http.StatusServiceUnavailable, "Store unavailable", "the database cannot be reached; retry later"
	default:
		p.Status, p.Title, p.Detail = http.StatusInternalServerError, "Internal error", "the server failed; the error is logged"
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
	p.Type = "about:blank"
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="weir"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
