package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/weirhq/weir/internal/store"
)

// translate maps a driver error to the store's sentinel errors, keeping the
// driver error in the chain for the message. It is the only place that
// knows PostgreSQL's error codes.
func translate(err error) error {
	if err == nil {
		return nil
	}
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid, store.ErrUnavailable,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "23505": // unique_violation
			return fmt.Errorf("%w: already exists: %w", store.ErrConflict, err)
		case code[:2] == "23": // integrity constraint violation
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		case code == "40001" || code == "40P01": // serialization failure, deadlock
			return fmt.Errorf("%w: concurrent transaction, retry: %w", store.ErrConflict, err)
		case code[:2] == "08", code[:2] == "53", code[:2] == "57", code[:2] == "28", code == "3D000":
			// connection, resources, operator intervention, authorization,
			// missing database
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
