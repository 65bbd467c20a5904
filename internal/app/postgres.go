package app

import (
	"context"
	"errors"

	"github.com/weirhq/weir/internal/store"
)

// openPostgres is replaced when the PostgreSQL backend lands.
func openPostgres(ctx context.Context, url string) (store.Store, error) {
	return nil, errors.New("db: the PostgreSQL backend is not available in this build yet")
}
