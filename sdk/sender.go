package sdk

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/weirhq/weir/event"
)

// sdkName is what batches say sent them.
const sdkName = "weir-go"

// maxRetryAfter caps the intake's Retry-After, so that a wrong header
// cannot stall delivery for days.
const maxRetryAfter = 10 * time.Minute

// run is the sender goroutine. It sends full batches as soon as they fill,
// and whatever is buffered once it has waited the flush interval; it
// delivers one batch at a time, retrying it until the intake answers, so
// the buffer's bound is the only memory events take. It returns after
// close asked it to drain, or when ctx is done.
func (e *events) run(ctx context.Context) {
	defer close(e.done)
	s := newSender(e)
	flush := time.NewTimer(e.interval)
	flush.Stop()
	armed := false // the timer runs only while something waits
	for {
		select {
		case <-ctx.Done():
			e.cut += int64(e.abandon())
			return
		case <-e.drain:
			e.sendAll(ctx, s)
			e.cut += int64(e.abandon())
			return
		case <-e.wake:
			e.sendFull(ctx, s)
		case <-flush.C:
			armed = false
			e.sendAll(ctx, s)
		}
		if e.refused.Load() != nil {
			e.abandon() // nothing will be sent again
		}
		if !armed && e.waiting() {
			flush.Reset(e.interval)
			armed = true
		}
	}
}

// sendFull delivers the full chunks.
func (e *events) sendFull(ctx context.Context, s *sender) {
	for ctx.Err() == nil {
		c := e.take(false)
		if c == nil {
			return
		}
		e.deliver(ctx, s, c, e.unreported.Swap(0))
		e.release(c)
	}
}

// sendAll delivers the full chunks, then the one being filled; when there
// were no events at all, it still reports losses in an empty batch.
func (e *events) sendAll(ctx context.Context, s *sender) {
	sent := false
	for ctx.Err() == nil {
		c := e.take(true)
		if c == nil {
			break
		}
		e.deliver(ctx, s, c, e.unreported.Swap(0))
		e.release(c)
		sent = true
	}
	if !sent && ctx.Err() == nil && e.refused.Load() == nil {
		if carried := e.unreported.Swap(0); carried > 0 {
			e.deliver(ctx, s, []event.Event{}, carried)
		}
	}
}

// outcome classifies the intake's answer.
type outcome int

const (
	accepted outcome = iota // stored (2xx)
	invalid                 // 400: the batch is rejected whole
	tooLarge                // 413
	refused                 // 401, 403: the key is refused
	retry                   // 429, 5xx, network errors
	failed                  // any other answer: retrying will not help
)

// deliver sends evs as one batch, with carried earlier losses, until the
// intake answers for good or ctx is done, and counts the outcome. Retries
// keep the batch's id, so the intake stores it once.
func (e *events) deliver(ctx context.Context, s *sender, evs []event.Event, carried int64) {
	n := len(evs)
	b := event.Batch{ID: newBatchID(), Dropped: carried, SDK: sdkName, Events: evs}
	for attempt := 1; ; attempt++ {
		if errp := e.refused.Load(); errp != nil {
			e.lose(n, carried)
			return
		}
		out, wait, err := s.post(ctx, &b)
		switch out {
		case accepted:
			e.sent.Add(int64(n))
			return
		case invalid:
			e.rejected.Add(int64(n))
			e.unreported.Add(int64(n) + carried)
			e.logger.Error("weir sdk: the event intake rejected a batch as invalid; its events are dropped",
				"events", n, "error", err.Error())
			return
		case tooLarge:
			if n > 1 {
				// Halves get ids of their own: the intake stored nothing.
				e.deliver(ctx, s, evs[:n/2], carried)
				e.deliver(ctx, s, evs[n/2:], 0)
				return
			}
			e.lose(n, carried)
			e.logger.Error("weir sdk: the event intake finds a single event too large; it is dropped", "events", n)
			return
		case refused:
			e.refuse(err)
			e.lose(n, carried)
			return
		case failed:
			e.lose(n, carried)
			e.logger.Error("weir sdk: the event intake refused a batch; its events are dropped", "events", n, "error", err.Error())
			return
		}
		if ctx.Err() != nil {
			e.cut += int64(n)
			e.lose(n, carried)
			return
		}
		if wait <= 0 {
			wait = backoff(attempt, e.backoffMin, e.backoffMax)
		}
		e.logger.Warn("weir sdk: sending events failed; retrying", "events", n, "attempt", attempt,
			"retryIn", wait.String(), "error", err.Error())
		if !sleep(ctx, wait) {
			e.cut += int64(n)
			e.lose(n, carried)
			return
		}
	}
}

// newBatchID returns a random idempotency key.
func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (it would crash the program)
	return hex.EncodeToString(b[:])
}

// sender posts batches; the sender goroutine owns it and reuses its
// buffers from one batch to the next.
type sender struct {
	url     string
	key     string
	client  *http.Client
	timeout time.Duration
	body    bytes.Buffer
	gz      *gzip.Writer
}

func newSender(e *events) *sender {
	s := &sender{url: e.url, key: e.key, client: e.httpClient, timeout: e.timeout}
	// The fastest level: events compress well anyway, and the
	// application's CPU is better spent on the application.
	s.gz, _ = gzip.NewWriterLevel(&s.body, gzip.BestSpeed)
	return s
}

// post sends one attempt of b and classifies the answer. wait is the
// intake's Retry-After, if it gave one.
func (s *sender) post(ctx context.Context, b *event.Batch) (out outcome, wait time.Duration, err error) {
	b.SentAt = time.Now().UTC()
	s.body.Reset()
	s.gz.Reset(&s.body)
	if err := event.Encode(s.gz, b); err != nil {
		return failed, 0, err
	}
	if err := s.gz.Close(); err != nil {
		return failed, 0, fmt.Errorf("compress event batch: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return failed, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", "weir-go-sdk")
	resp, err := s.client.Do(req)
	if err != nil {
		return retry, 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return accepted, 0, nil
	case code == http.StatusBadRequest:
		return invalid, 0, problems(answer)
	case code == http.StatusRequestEntityTooLarge:
		return tooLarge, 0, httpError(code)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return refused, 0, httpError(code)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return retry, retryAfter(resp.Header.Get("Retry-After"), time.Now()), httpError(code)
	case code >= 500 || code == http.StatusRequestTimeout:
		return retry, 0, httpError(code)
	}
	return failed, 0, httpError(code)
}

// problems turns a 400 answer (RFC 9457 problem details listing the
// batch's problems) into an error naming them.
func problems(answer []byte) error {
	var p struct {
		Detail string          `json:"detail"`
		Errors []event.Problem `json:"errors"`
	}
	if json.Unmarshal(answer, &p) != nil || len(p.Errors) == 0 {
		if p.Detail != "" {
			return fmt.Errorf("server answered 400: %s", p.Detail)
		}
		return httpError(http.StatusBadRequest)
	}
	return &event.ValidationError{Problems: p.Errors}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date. It
// returns 0 when there is none.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(h); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
