package sqlite

import "context"

// ExecForTest runs a statement on the writer connection, bypassing the
// store, so tests can try what an operator with the sqlite3 shell could.
func (s *Store) ExecForTest(ctx context.Context, query string) error {
	_, err := s.write.ExecContext(ctx, query)
	return err
}
