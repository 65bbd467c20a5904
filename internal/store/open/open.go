package open

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/weirhq/weir/internal/store"
	"github.com/weirhq/weir/internal/store/postgres"
	"github.com/weirhq/weir/internal/store/sqlite"
)

// Open opens the store named by dsn; see the package documentation for the
// accepted forms. An unrecognised form is store.ErrInvalid.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	switch backend, target := parse(dsn); backend {
	case "sqlite":
		s, err := sqlite.Open(ctx, target)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, target)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("open store: %w: unrecognised data source %s; want sqlite:PATH, a path ending in .db, or postgres://…", store.ErrInvalid, describe(dsn))
}

// parse returns the backend a DSN names ("sqlite", "postgres" or "") and
// what to hand it.
func parse(dsn string) (backend, target string) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", dsn
	case strings.HasPrefix(dsn, "sqlite://"):
		return sqliteTarget(strings.TrimPrefix(dsn, "sqlite://"))
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqliteTarget(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasSuffix(dsn, ".db") && !strings.Contains(dsn, "://"):
		return "sqlite", dsn
	}
	return "", ""
}

func sqliteTarget(path string) (string, string) {
	if path == "" {
		return "", ""
	}
	return "sqlite", path
}

// describe names a DSN's form without its content.
func describe(dsn string) string {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && scheme != "" && !strings.ContainsAny(scheme, "@:/ ") {
		return fmt.Sprintf("with scheme %q", scheme)
	}
	return "(not shown: it may hold a password)"
}

// Redact returns dsn in a form safe to log: SQLite paths as they are,
// PostgreSQL URLs with any password (in the user info or a password
// parameter) replaced by "xxxxx", and anything else hidden.
func Redact(dsn string) string {
	backend, _ := parse(dsn)
	switch backend {
	case "sqlite":
		return dsn
	case "postgres":
		u, err := url.Parse(dsn)
		if err != nil {
			return "postgres://(unparsable URL hidden)"
		}
		q := u.Query()
		for name := range q {
			if strings.EqualFold(name, "password") {
				q.Set(name, "xxxxx")
				u.RawQuery = q.Encode()
			}
		}
		return u.Redacted()
	}
	return "(unrecognised data source hidden)"
}
