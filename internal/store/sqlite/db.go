// Package sqlite is the store on one SQLite file, for a server that runs
// alone: nothing to install, and its state survives a crash of the
// process (WAL with synchronous=NORMAL loses at most the last commits on
// a power cut, never consistency).
//
// Writes go through a single connection whose transactions begin
// IMMEDIATE, so concurrent writers in this process queue in Go instead of
// failing with SQLITE_BUSY, and a second process on the same file waits
// up to the busy timeout. Reads use a pool of read-only connections,
// which WAL lets run beside the writer.
//
// Times are kept as microseconds since the Unix epoch and come back in
// UTC, truncated to the microsecond; the zero time is NULL and comes back
// zero. A nil or empty json.RawMessage is NULL and comes back nil; any
// other value comes back byte for byte. Empty tags come back nil.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"github.com/gantry-ci/gantry/internal/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a statement waits for another process's lock
// on the file before it fails.
const busyTimeoutMS = 10000

// DB is the SQLite store. It implements store.Store.
type DB struct {
	w *sql.DB // the single writer connection
	r *sql.DB // read-only connections
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite store: path %q must name a file and contain no '?' or '#'", path)
	}
	wq := url.Values{}
	wq.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	wq.Set("_foreign_keys", "1")
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "NORMAL")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// Close closes the database; pending writes are already durable.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE). fn must not use
// db.w itself: the writer has one connection, which the transaction holds.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// wrap adds what was being done to err and, for constraint violations,
// the store sentinel callers test for: a duplicate is ErrConflict, a
// reference to a missing row (project, pipeline) ErrNotFound.
func wrap(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w: %w", what, store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w: %w", what, store.ErrNotFound, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
