package postgres

import (
	"context"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

const runnerCols = `id, name, token_hash, tags, run_untagged, concurrency, last_seen, created_at`

func scanRunner(s scanner) (*store.Runner, error) {
	r := &store.Runner{}
	err := s.Scan(&r.ID, &r.Name, &r.TokenHash, sqlcol.Tags{Tags: &r.Tags}, &r.RunUntagged, &r.Concurrency,
		timeCol{&r.LastSeen}, timeCol{&r.CreatedAt})
	return r, err
}

// CreateRunner stores r, setting r.ID and, when zero, r.CreatedAt;
// ErrConflict when its token hash is taken.
func (db *DB) CreateRunner(ctx context.Context, r *store.Runner) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	r.CreatedAt = norm(r.CreatedAt)
	err := db.pool.QueryRow(ctx, `INSERT INTO runners (name, token_hash, tags, run_untagged, concurrency, last_seen, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		r.Name, r.TokenHash, tagsv(r.Tags), r.RunUntagged, r.Concurrency, tv(r.LastSeen), tv(r.CreatedAt)).Scan(&r.ID)
	if err != nil {
		return wrap(err, "create runner %q", r.Name)
	}
	return nil
}

// RunnerByTokenHash finds the runner a token belongs to.
func (db *DB) RunnerByTokenHash(ctx context.Context, hash string) (*store.Runner, error) {
	r, err := scanRunner(db.pool.QueryRow(ctx, `SELECT `+runnerCols+` FROM runners WHERE token_hash = $1`, hash))
	if err != nil {
		return nil, wrap(err, "runner by token")
	}
	return r, nil
}

// ListRunners returns every runner by ID.
func (db *DB) ListRunners(ctx context.Context) ([]*store.Runner, error) {
	rs, err := list(ctx, db.pool, scanRunner, `SELECT `+runnerCols+` FROM runners ORDER BY id`)
	if err != nil {
		return nil, wrap(err, "list runners")
	}
	return rs, nil
}

// TouchRunner records that the runner was seen at t.
func (db *DB) TouchRunner(ctx context.Context, id int64, t time.Time) error {
	if err := mustAffect(db.pool.Exec(ctx, `UPDATE runners SET last_seen = $1 WHERE id = $2`, tv(t), id)); err != nil {
		return wrap(err, "touch runner %d", id)
	}
	return nil
}

// DeleteRunner removes a runner; the jobs it ran keep its ID.
func (db *DB) DeleteRunner(ctx context.Context, id int64) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM runners WHERE id = $1`, id)); err != nil {
		return wrap(err, "delete runner %d", id)
	}
	return nil
}

const tokenCols = `id, hash, kind, name, project_id, job_id, created_at, expires_at`

func scanToken(s scanner) (*store.Token, error) {
	t := &store.Token{}
	err := s.Scan(&t.ID, &t.Hash, &t.Kind, &t.Name, &t.ProjectID, &t.JobID, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	return t, err
}

// CreateToken stores t, setting t.ID and, when zero, t.CreatedAt;
// ErrConflict when its hash is taken.
func (db *DB) CreateToken(ctx context.Context, t *store.Token) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = norm(t.CreatedAt)
	err := db.pool.QueryRow(ctx, `INSERT INTO tokens (hash, kind, name, project_id, job_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		t.Hash, t.Kind, t.Name, t.ProjectID, t.JobID, tv(t.CreatedAt), tv(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return wrap(err, "create %s token %q", t.Kind, t.Name)
	}
	return nil
}

// TokenByHash finds a token, expired or not: the caller checks ExpiresAt.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, wrap(err, "token by hash")
	}
	return t, nil
}

// ListTokens returns every token by ID.
func (db *DB) ListTokens(ctx context.Context) ([]*store.Token, error) {
	ts, err := list(ctx, db.pool, scanToken, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, wrap(err, "list tokens")
	}
	return ts, nil
}

// DeleteToken removes a token.
func (db *DB) DeleteToken(ctx context.Context, id int64) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)); err != nil {
		return wrap(err, "delete token %d", id)
	}
	return nil
}

// DeleteExpiredTokens removes tokens that expired before now and says
// how many.
func (db *DB) DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < $1`, tv(now))
	if err != nil {
		return 0, wrap(err, "delete expired tokens")
	}
	return int(tag.RowsAffected()), nil
}
