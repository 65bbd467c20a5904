package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/store"
)

// TestTheAppTakesEventsAndDeletesExpiredOnesSoonAfterStart runs the
// composed server: a batch posted with an SDK key is stored, events older
// than their environment's retention are deleted by the first retention
// pass, and Serve returns once shut down.
func TestTheAppTakesEventsAndDeletesExpiredOnesSoonAfterStart(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	cfg := Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "weir.db"), RetentionInterval: time.Second,
		AdminToken: "an-admin-token-for-the-app-test"}
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	prod := flagmodel.Environment{Key: "production", RetentionDays: 1}
	if _, err := a.store.Commit(ctx, &store.Changeset{Actor: "test", Action: "environment.update", Changes: []store.Change{
		{Kind: store.KindEnvironment, Key: "production", ExpectedVersion: store.AnyVersion, Environment: &prod}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := store.EventBatch{Env: "production", ID: "old", ReceivedAt: now.Add(-72 * time.Hour),
		Exposures: []store.Exposure{{Time: now.Add(-72 * time.Hour), Unit: make([]byte, 16), Flag: "f", Variant: "v", FlagVersion: 1}}}
	if _, err := a.store.AppendEvents(ctx, []store.EventBatch{old}); err != nil {
		t.Fatal(err)
	}
	const sdkKey = "weir_sdk_a-key-for-the-app-test"
	if err := a.store.CreateKey(ctx, store.Key{ID: "sdk", Name: "test", Scope: store.ScopeSDK, Env: "production",
		Hash: auth.Hash(sdkKey), CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx) }()

	body := `{"id":"recent","events":[{"kind":"track","time":"` + now.UTC().Format(time.RFC3339) + `","unit":"u","name":"signup"}]}`
	req, _ := http.NewRequest("POST", "http://"+a.Addr()+"/events/v1/batch", strings.NewReader(body))
	req.Header.Set("X-API-Key", sdkKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("posting a batch: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := a.store.EventStats(ctx, "production", now.Add(-10*24*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Exposures == 0 {
			if st.Tracks != 1 {
				t.Fatalf("after the retention pass: %+v, want the recent track event kept", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired exposure is still there after 10s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !strings.Contains(logs.String(), "deleted expired events") || !strings.Contains(logs.String(), "env=production") {
		t.Errorf("the deletion was not logged:\n%s", logs.String())
	}
}
