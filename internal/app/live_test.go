package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/store"
)

// liveServer is an App serving on 127.0.0.1 with an admin token and an
// SDK key of production, stopped when the test ends.
type liveServer struct {
	t          *testing.T
	base       string // http://host:port
	adminToken string
	sdkKey     string
}

func startLive(t *testing.T, name string) *liveServer {
	t.Helper()
	ctx := context.Background()
	l := &liveServer{t: t, adminToken: "an-admin-token-for-" + name, sdkKey: "weir_sdk_a-key-for-" + name}
	a, err := New(ctx, Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "weir.db"), AdminToken: l.adminToken},
		slog.New(slog.NewTextHandler(io.Discard, nil)), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateKey(ctx, store.Key{ID: "sdk", Name: "test", Scope: store.ScopeSDK, Env: "production",
		Hash: auth.Hash(l.sdkKey), CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	l.base = "http://" + a.Addr()
	return l
}

// admin calls the admin API and fails the test unless it answers 2xx.
func (l *liveServer) admin(method, path, contentType, body string) []byte {
	l.t.Helper()
	req, _ := http.NewRequest(method, l.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.adminToken)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		l.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}
