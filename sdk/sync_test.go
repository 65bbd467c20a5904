package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/sdk"
)

const checkout = `
flags:
  - key: checkout
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        offVariant: off
        targets: {on: [vip]}
        default: {variant: off}
      development: {enabled: true, default: {variant: on}}
  - key: color
    type: string
    variants: {red: red, blue: blue}
    environments:
      production: {enabled: true, default: {variant: red}}
`

var vip = &eval.Context{TargetingKey: "vip"}

func TestTheClientServesTheServersSnapshotAndFollowsChanges(t *testing.T) {
	w := startWeir(t, dbPath(t), "")
	w.apply(checkout)
	c := newClient(t, w.sdkKey("production"), append(fastOptions(w), sdk.WithInitTimeout(5*time.Second))...)
	if c.Status() != sdk.StatusReady {
		t.Fatalf("status %v after New with an init timeout", c.Status())
	}
	server := w.srv.Snapshot("production")
	for _, ctx := range []*eval.Context{nil, vip, {TargetingKey: "u1"}} {
		d := c.BoolDetails("checkout", ctx, false)
		if want := server.Evaluate("checkout", ctx); d.Result != want {
			t.Errorf("for %v: SDK %+v, server %+v", ctx, d.Result, want)
		}
	}
	if v, env := c.Version(); env != "production" || v != w.srv.AuditSeq() {
		t.Errorf("version %d of %q, want %d of production", v, env, w.srv.AuditSeq())
	}
	if !c.Bool("checkout", vip, false) {
		t.Fatal("vip does not get checkout")
	}
	w.toggle("checkout", "production", false)
	eventually(t, "the SDK serves the disabled flag", func() bool {
		return c.BoolDetails("checkout", vip, true).Reason == eval.ReasonDisabled
	})
	if c.Bool("checkout", vip, true) {
		t.Error("the disabled flag still serves on")
	}
}

func TestTheClientSurvivesAServerCrashAndCatchesUpOnChangesMadeWhileAway(t *testing.T) {
	db := dbPath(t)
	w := startWeir(t, db, "")
	w.apply(checkout)
	key := w.sdkKey("production")
	c := newClient(t, key, append(fastOptions(w), sdk.WithInitTimeout(5*time.Second))...)
	var mu sync.Mutex
	var statuses []sdk.Status
	c.OnChange(func(ch sdk.Change) {
		if ch.Kind == sdk.ChangeStatus {
			mu.Lock()
			statuses = append(statuses, ch.Status)
			mu.Unlock()
		}
	})
	addr := w.addr()
	w.kill()

	eventually(t, "the client notices", func() bool { return c.Status() == sdk.StatusStale })
	if !c.Bool("checkout", vip, false) {
		t.Fatal("the last snapshot is not served while the server is down")
	}

	// Changed while the client is away, then served again on the same port.
	w2 := openWeir(t, db)
	w2.toggle("checkout", "production", false)
	w2.listen(addr)
	eventually(t, "the client catches up", func() bool {
		return c.BoolDetails("checkout", vip, true).Reason == eval.ReasonDisabled && c.Status() == sdk.StatusReady
	})
	if v, _ := c.Version(); v != w2.srv.AuditSeq() {
		t.Errorf("version %d, want %d", v, w2.srv.AuditSeq())
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(statuses) != "[STALE READY]" {
		t.Errorf("status changes %v, want [STALE READY]", statuses)
	}
}

func TestTheClientStartsFromItsDiskCacheWhenTheServerIsDown(t *testing.T) {
	cache := t.TempDir()
	w := startWeir(t, dbPath(t), "")
	w.apply(checkout)
	key := w.sdkKey("production")
	first := newClient(t, key, append(fastOptions(w), sdk.WithCacheDir(cache), sdk.WithInitTimeout(5*time.Second))...)
	version, _ := first.Version()
	first.Close(context.Background())
	url := w.url()
	w.kill()

	c, err := sdk.New(context.Background(), key, sdk.WithBaseURL(url), sdk.WithCacheDir(cache),
		sdk.WithBackoff(10*time.Millisecond, 50*time.Millisecond), sdk.WithInitTimeout(time.Second))
	if err != nil {
		t.Fatalf("New with a cache and the server down: %v", err)
	}
	defer c.Close(context.Background())
	if v, env := c.Version(); v != version || env != "production" {
		t.Errorf("cached version %d of %q, want %d of production", v, env, version)
	}
	if d := c.BoolDetails("checkout", vip, false); !d.Value || d.Version == 0 {
		t.Errorf("from the cache: %+v", d)
	}
	if s := c.Status(); s != sdk.StatusStale {
		t.Errorf("status %v, want STALE", s)
	}
}

func TestManyGoroutinesEvaluateWhileUpdatesArrive(t *testing.T) {
	w := startWeir(t, dbPath(t), "")
	w.apply(checkout)
	c := newClient(t, w.sdkKey("production"), append(fastOptions(w), sdk.WithInitTimeout(5*time.Second))...)
	var changes atomic.Int64
	c.OnChange(func(ch sdk.Change) {
		if ch.Kind == sdk.ChangeSnapshot {
			changes.Add(1)
		}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := &eval.Context{TargetingKey: "vip"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := c.BoolDetails("checkout", ctx, false)
				if d.IsError() || (d.Reason != eval.ReasonTargetingMatch && d.Reason != eval.ReasonDisabled) {
					bad.Add(1)
				}
				_ = c.String("color", ctx, "none")
			}
		}()
	}
	for i := 0; i < 10; i++ {
		w.toggle("checkout", "production", i%2 == 1)
	}
	final := w.srv.AuditSeq()
	eventually(t, "the last change arrives", func() bool { v, _ := c.Version(); return v == final })
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d evaluations gave an unexpected result", bad.Load())
	}
	if changes.Load() == 0 {
		t.Error("no snapshot change was reported")
	}
	if !c.Bool("checkout", vip, false) {
		t.Error("the final state (enabled) is not served")
	}
}

func TestThePollingClientFollowsChanges(t *testing.T) {
	w := startWeir(t, dbPath(t), "")
	w.apply(checkout)
	c := newClient(t, w.sdkKey("production"), sdk.WithBaseURL(w.url()), sdk.WithPolling(20*time.Millisecond), sdk.WithInitTimeout(5*time.Second))
	if !c.Bool("checkout", vip, false) {
		t.Fatal("not served")
	}
	w.toggle("checkout", "production", false)
	eventually(t, "the poll picks up the change", func() bool { return !c.Bool("checkout", vip, true) })
}

func TestAStreamingClientFallsBackToPollingWhenStreamsKeepFailing(t *testing.T) {
	w := startWeir(t, dbPath(t), "")
	w.apply(checkout)
	target, _ := url.Parse(w.url())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var streams atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sdk/v1/stream" {
			streams.Add(1)
			http.Error(rw, "no streams through this proxy", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	defer front.Close()
	c := newClient(t, w.sdkKey("production"), sdk.WithBaseURL(front.URL),
		sdk.WithBackoff(5*time.Millisecond, 10*time.Millisecond), sdk.WithPollingFallback(2, 20*time.Millisecond),
		sdk.WithInitTimeout(5*time.Second))
	if !c.Bool("checkout", vip, false) || c.Status() != sdk.StatusReady {
		t.Fatalf("not served through polling: status %v", c.Status())
	}
	w.toggle("checkout", "production", false)
	eventually(t, "the fallback poll picks up the change", func() bool { return !c.Bool("checkout", vip, true) })
	if streams.Load() < 2 {
		t.Errorf("%d stream attempts; the client should keep trying to stream", streams.Load())
	}
}

func TestAClientWithoutASnapshotServesDefaultsAndSaysWhy(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close()
	c, err := sdk.New(context.Background(), "weir_sdk_x", sdk.WithBaseURL(dead), sdk.WithInitTimeout(50*time.Millisecond),
		sdk.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	if !errors.Is(err, sdk.ErrNotReady) || c == nil {
		t.Fatalf("New with the server down: %v, %v; want a client and ErrNotReady", c, err)
	}
	defer c.Close(context.Background())
	d := c.BoolDetails("checkout", vip, true)
	if !d.Value || d.Reason != eval.ReasonError || !d.NotReady() || d.ErrorMessage != sdk.ErrNotReady.Error() {
		t.Errorf("before any snapshot: %+v", d)
	}
	if c.Status() != sdk.StatusNotReady {
		t.Errorf("status %v", c.Status())
	}
	var nilClient *sdk.Client
	if nilClient.String("x", nil, "def") != "def" {
		t.Error("a nil client does not serve the default")
	}
}

func TestARefusedKeyStopsSyncing(t *testing.T) {
	w := startWeir(t, dbPath(t), "")
	c, err := sdk.New(context.Background(), "weir_sdk_unknown", sdk.WithBaseURL(w.url()), sdk.WithInitTimeout(5*time.Second))
	if !errors.Is(err, sdk.ErrUnauthorized) {
		t.Fatalf("New with an unknown key: %v, want ErrUnauthorized", err)
	}
	defer c.Close(context.Background())
	if c.Status() != sdk.StatusError {
		t.Errorf("status %v, want ERROR", c.Status())
	}
	if err := c.WaitReady(context.Background()); !errors.Is(err, sdk.ErrUnauthorized) {
		t.Errorf("WaitReady: %v", err)
	}
}
