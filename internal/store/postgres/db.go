// Package postgres is the store on PostgreSQL, for several server
// processes sharing one database: the queue hands each job to one
// runner (SELECT … FOR UPDATE SKIP LOCKED), a pipeline is coordinated by
// one server at a time, and a schedule's occurrence runs once.
//
// Times are timestamptz: they come back in UTC, truncated to the
// microsecond, and the zero time is NULL and comes back zero. A nil or
// empty json.RawMessage is NULL and comes back nil; any other value is
// TEXT and comes back byte for byte. Tags are a jsonb array; empty tags
// come back nil.
//
// Event IDs come from a sequence, and concurrent transactions could
// commit them out of order, so a live view reading past ID n could skip
// an n-1 committed a moment later. AppendEvent therefore takes a
// transaction-level advisory lock before it inserts: events are
// numbered and committed one at a time, in ID order, across all servers.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys (arbitrary, fixed): one for migrations, one that
// orders event inserts.
const (
	migrateLock int64 = 0x67616e7472790001
	eventsLock  int64 = 0x67616e7472790002
)

// DB is the PostgreSQL store. It implements store.Store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database (a libpq DSN or URL; pool_max_conns and
// the other pgxpool settings apply) and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes every connection.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// inTx runs fn in a transaction, committed when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// wrap adds what was being done to err and, for constraint violations,
// the store sentinel callers test for: a duplicate is ErrConflict, a
// reference to a missing row (project, pipeline) ErrNotFound.
func wrap(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: %w: %w", what, store.ErrNotFound, err)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// ErrNotFound.
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q querier, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return out, nil
}

// Analyze refreshes the query planner's statistics of the queue tables.
// Autovacuum does it within a minute or so of bulk changes; until then a
// freshly filled queue may be planned as if it were nearly empty (claims
// sort every pending job instead of walking the queue index), so a
// server may call Analyze after loading many jobs at once.
func (db *DB) Analyze(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, `ANALYZE jobs, pipelines`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
