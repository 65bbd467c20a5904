package open

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/store"
)

func TestDataSourceNamesPickTheirBackend(t *testing.T) {
	tests := []struct {
		dsn, backend, target string
	}{
		{"sqlite:weir.db", "sqlite", "weir.db"},
		{"sqlite:data/weir.sqlite", "sqlite", "data/weir.sqlite"},
		{"sqlite://weir.db", "sqlite", "weir.db"},
		{"sqlite:///var/lib/weir/weir.db", "sqlite", "/var/lib/weir/weir.db"},
		{"weir.db", "sqlite", "weir.db"},
		{"/var/lib/weir/weir.db", "sqlite", "/var/lib/weir/weir.db"},
		{"postgres://weir@db/weir", "postgres", "postgres://weir@db/weir"},
		{"postgresql://weir@db/weir", "postgres", "postgresql://weir@db/weir"},
		{"sqlite:", "", ""},
		{"mysql://root:pw@db/weir.db", "", ""},
		{"weir.sqlite", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		backend, target := parse(tt.dsn)
		if backend != tt.backend || target != tt.target {
			t.Errorf("parse(%q) = %q, %q; want %q, %q", tt.dsn, backend, target, tt.backend, tt.target)
		}
	}
}

func TestOpenSQLiteFromEachForm(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{"sqlite:" + filepath.Join(dir, "a.sqlite"), "sqlite://" + filepath.Join(dir, "b.sqlite"), filepath.Join(dir, "c.db")} {
		s, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping after Open(%q): %v", dsn, err)
		}
		s.Close()
	}
	if entries, _ := os.ReadDir(dir); len(entries) < 3 {
		t.Fatalf("expected three database files, found %d entries", len(entries))
	}
}

func TestUnrecognisedDataSourcesAreInvalidAndNotShown(t *testing.T) {
	for _, dsn := range []string{"mysql://root:hunter2@db/weir", "root:hunter2@tcp(db)/weir", "hunter2"} {
		_, err := Open(context.Background(), dsn)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the data source: %v", err)
		}
	}
}

func TestPostgresErrorsDoNotShowThePassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://weir:hunter2@127.0.0.1:1/weir?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open(unreachable) = %v, want an error without the password", err)
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"sqlite:/var/lib/weir/weir.db", "sqlite:/var/lib/weir/weir.db"},
		{"postgres://weir:hunter2@db:5432/weir?sslmode=require", "postgres://weir:xxxxx@db:5432/weir?sslmode=require"},
		{"postgres://weir@db/weir?password=hunter2", "postgres://weir@db/weir?password=xxxxx"},
		{"postgres://weir:hunter2@db:port/weir", "postgres://(unparsable URL hidden)"},
		{"mysql://root:hunter2@db/weir", "(unrecognised data source hidden)"},
	}
	for _, tt := range tests {
		if got := Redact(tt.dsn); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}
