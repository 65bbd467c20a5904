package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// statusError is an unexpected HTTP answer.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("server answered %d", e.code) }

func httpError(code int) error {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		return fmt.Errorf("%w (HTTP %d)", ErrUnauthorized, code)
	}
	return &statusError{code}
}

// run is the sync goroutine: it streams, reconnecting with jittered
// exponential backoff, and polls between attempts once streaming failed
// repeatedly (or only polls, with WithPolling). It returns when ctx is done
// or the server refuses the key.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	if c.o.polling {
		for {
			c.pollOnce(ctx)
			if c.stopped(ctx) || !sleep(ctx, c.o.pollInterval) {
				return
			}
		}
	}
	failures := 0
	retry := time.Duration(0) // the server's "retry" hint
	for {
		connected, hint, err := c.stream(ctx)
		if hint > 0 {
			retry = hint
		}
		if c.stopped(ctx) {
			return
		}
		if errors.Is(err, ErrUnauthorized) {
			c.stop(err)
			return
		}
		if connected {
			failures = 0
		}
		failures++
		c.lost(err)
		wait := backoff(failures, max(c.o.backoffMin, retry), c.o.backoffMax)
		if failures >= c.o.pollAfter {
			if failures == c.o.pollAfter {
				c.o.logger.Warn("weir sdk: streaming keeps failing; polling meanwhile", "failures", failures)
			}
			c.pollOnce(ctx)
			if c.stopped(ctx) {
				return
			}
			wait = c.o.pollInterval
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// stopped reports whether the sync goroutine must end.
func (c *Client) stopped(ctx context.Context) bool {
	return ctx.Err() != nil || c.fatal.Load() != nil
}

// stop records an unrecoverable error.
func (c *Client) stop(err error) {
	c.fatal.Store(&err)
	c.o.logger.Error("weir sdk: stopped syncing", "error", err.Error())
	c.setStatus(StatusError, err)
}

// lost records a failed connection or poll.
func (c *Client) lost(err error) {
	if err == nil {
		err = errors.New("the stream ended")
	}
	c.o.logger.Warn("weir sdk: connection to the server lost", "error", err.Error())
	if c.cur.Load() != nil {
		c.setStatus(StatusStale, err)
	}
}

// healthy records that the server is reachable and the snapshot current.
func (c *Client) healthy() {
	if c.cur.Load() != nil {
		c.setStatus(StatusReady, nil)
	}
}

// backoff returns the delay before reconnection attempt n (from 1):
// exponential from min, capped at max, jittered down by up to half so that
// clients of a restarted server do not reconnect in lockstep.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) newRequest(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.o.baseURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", "weir-go-sdk")
	return req, nil
}

// stream follows GET /sdk/v1/stream until it fails, ctx is done, or it is
// silent for longer than the stream timeout. connected reports whether the
// server answered with a stream at all.
func (c *Client) stream(ctx context.Context) (connected bool, retry time.Duration, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(sctx, "/sdk/v1/stream")
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if st := c.cur.Load(); st != nil && st.version != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(st.version, 10))
	}
	// The watchdog ends a silent stream; every line read rearms it.
	var silent atomic.Bool
	watchdog := time.AfterFunc(c.o.streamTimeout, func() { silent.Store(true); cancel() })
	defer watchdog.Stop()
	resp, err := c.o.httpClient.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, 0, httpError(resp.StatusCode)
	}
	r := newSSEReader(resp.Body, maxSnapshotBytes)
	for {
		ev, err := r.next()
		if err != nil {
			if silent.Load() {
				err = fmt.Errorf("no data from the stream for %s", c.o.streamTimeout)
			}
			return connected, retry, err
		}
		watchdog.Reset(c.o.streamTimeout)
		connected = true
		if ev.retry > 0 {
			retry = ev.retry
		}
		switch {
		case ev.comment:
			// The server sends a comment, not the snapshot, when the
			// client's Last-Event-ID is current.
			c.healthy()
		case ev.event == "snapshot":
			if _, err := c.apply([]byte(ev.data)); err != nil {
				c.o.logger.Error("weir sdk: rejected a snapshot; serving the previous one", "error", err.Error())
				continue
			}
			c.healthy()
		}
	}
}

// pollOnce fetches GET /sdk/v1/snapshot unless the served version is
// current (ETag).
func (c *Client) pollOnce(ctx context.Context) {
	if err := c.poll(ctx); err != nil {
		if errors.Is(err, ErrUnauthorized) {
			c.stop(err)
			return
		}
		if ctx.Err() == nil {
			c.lost(fmt.Errorf("poll: %w", err))
		}
	}
}

func (c *Client) poll(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, c.o.requestTimeout)
	defer cancel()
	req, err := c.newRequest(pctx, "/sdk/v1/snapshot")
	if err != nil {
		return err
	}
	if st := c.cur.Load(); st != nil && st.version != 0 {
		req.Header.Set("If-None-Match", `"`+strconv.FormatInt(st.version, 10)+`"`)
	}
	resp, err := c.o.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		c.healthy()
		return nil
	case http.StatusOK:
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return httpError(resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	if _, err := c.apply(data); err != nil {
		c.o.logger.Error("weir sdk: rejected a snapshot; serving the previous one", "error", err.Error())
		return err
	}
	c.healthy()
	return nil
}
