package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
	"github.com/weirhq/weir/internal/auth"
	"github.com/weirhq/weir/internal/plan"
	"github.com/weirhq/weir/internal/store"
)

func TestFirstStartCreatesEnvironmentsAndPrintsOneAdminTokenOnce(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "weir.db")
	cfg := Config{Addr: "127.0.0.1:0", DB: "sqlite:" + db}
	var out bytes.Buffer
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler), &out)
	if err != nil {
		t.Fatal(err)
	}
	token := regexp.MustCompile(`weir_admin_[A-Za-z0-9_-]+`).FindString(out.String())
	if token == "" {
		t.Fatalf("no token printed: %q", out.String())
	}
	if s := a.Server().Snapshot("production"); s == nil {
		t.Fatal("no production snapshot")
	}
	for _, e := range DefaultEnvironments {
		if a.Server().Snapshot(e) == nil {
			t.Errorf("environment %s missing", e)
		}
	}
	keys, err := a.store.Keys(ctx)
	if err != nil || len(keys) != 1 || !auth.Matches(token, keys[0].Hash) {
		t.Fatalf("stored keys %+v, %v", keys, err)
	}
	a.Close()
	raw, _ := os.ReadFile(db)
	if bytes.Contains(raw, []byte(token)) {
		t.Fatal("the admin token is stored in clear in the database file")
	}
	out.Reset()
	b, err := New(ctx, cfg, slog.New(slog.DiscardHandler), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if strings.Contains(out.String(), "weir_admin_") {
		t.Fatal("a second start printed another token")
	}
}

func TestConfigValidationReportsEveryProblem(t *testing.T) {
	err := (&Config{Addr: "nope", DB: "", AdminToken: "short"}).Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"addr", "db", "admin token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestAnUnsupportedDatabaseIsRefusedWithoutQuotingIt(t *testing.T) {
	_, err := New(context.Background(), Config{Addr: "127.0.0.1:0", DB: "mysql://root:secret@host/db"}, slog.New(slog.DiscardHandler), &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v", err)
	}
}

func TestAReplicaServesChangesCommittedByAnother(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "weir.db")
	cfg := Config{Addr: "127.0.0.1:0", DB: db, AdminToken: "weir_admin_replica-test-token", RefreshInterval: 20 * time.Millisecond}
	log := slog.New(slog.DiscardHandler)
	writer, err := New(ctx, cfg, log, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := New(ctx, cfg, log, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- reader.Serve(ctx) }()

	f, _ := flagmodel.Parse([]byte(`
flags:
  - key: banner
    type: boolean
    variants: {on: true, off: false}
    environments: {production: {enabled: true, default: {variant: on}}}
`))
	p, err := plan.Compute(&store.Config{}, f, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.store.Commit(ctx, p.Changeset("test", "", "apply")); err != nil {
		t.Fatal(err)
	}
	// Eventually (bounded): the reader's snapshot serves the new flag.
	ectx := eval.Context{TargetingKey: "u"}
	for i := 0; ; i++ {
		if r := reader.Server().Snapshot("production").Evaluate("banner", &ectx); r.Variant == "on" {
			break
		}
		if i == 500 {
			t.Fatal("the reader never served the writer's change")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
