package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/jackc/pgx/v5"
)

// ClaimJob gives r the oldest pending job (by QueuedAt, then ID) whose
// tags are all among r's (jsonb containment); an untagged job only when
// r.RunUntagged. FOR UPDATE SKIP LOCKED makes concurrent claims, from
// any server, pass over a job another claim is taking instead of waiting
// for it or taking it too.
func (db *DB) ClaimJob(ctx context.Context, r *store.Runner, lease time.Time) (*store.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `UPDATE jobs SET status = 'running', runner_id = $1, lease_until = $2,
		started_at = $3 WHERE id = (
			SELECT id FROM jobs
			WHERE status = 'pending' AND tags <@ $4::jsonb AND ($5 OR tags <> '[]'::jsonb)
			ORDER BY queued_at, id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+jobCols, r.ID, tv(lease), tv(now()), tagsv(r.Tags), r.RunUntagged))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "claim job for runner %d", r.ID)
	}
	return j, nil
}

// leaseLost explains why a runner's call about a job found nothing: the
// job is gone (ErrLeaseLost and ErrNotFound) or not the runner's.
func (db *DB) leaseLost(ctx context.Context, jobID int64) error {
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM jobs WHERE id = $1`, jobID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (%w)", store.ErrLeaseLost, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return store.ErrLeaseLost
}

// RenewLease extends the job's lease while runnerID runs it and reports
// whether a cancel was asked for.
func (db *DB) RenewLease(ctx context.Context, jobID, runnerID int64, lease time.Time) (bool, error) {
	var cancel bool
	err := db.pool.QueryRow(ctx, `UPDATE jobs SET lease_until = $1
		WHERE id = $2 AND runner_id = $3 AND status = 'running' RETURNING cancel_requested`,
		tv(lease), jobID, runnerID).Scan(&cancel)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.leaseLost(ctx, jobID)
	}
	if err != nil {
		return false, fmt.Errorf("renew lease of job %d for runner %d: %w", jobID, runnerID, err)
	}
	return cancel, nil
}

// FinishJob records the end of runnerID's job and clears its lease; the
// runner stays recorded. A zero r.FinishedAt is now.
func (db *DB) FinishJob(ctx context.Context, jobID, runnerID int64, r store.Result) error {
	if !store.Finished(r.Status) {
		return fmt.Errorf("finish job %d: status %q is not final", jobID, r.Status)
	}
	fin := r.FinishedAt
	if fin.IsZero() {
		fin = now()
	}
	tag, err := db.pool.Exec(ctx, `UPDATE jobs SET status = $1, exit_code = $2, failure_reason = $3, coverage = $4,
		result = $5, artifacts_size = $6, artifacts_expire_at = $7, finished_at = $8, lease_until = NULL
		WHERE id = $9 AND runner_id = $10 AND status = 'running'`,
		r.Status, r.ExitCode, r.FailureReason, r.Coverage, jv(r.Detail), r.ArtifactsSize, tv(r.ArtifactsExpireAt),
		tv(fin), jobID, runnerID)
	if err == nil && tag.RowsAffected() == 0 {
		err = db.leaseLost(ctx, jobID)
	}
	if err != nil {
		return fmt.Errorf("finish job %d for runner %d: %w", jobID, runnerID, err)
	}
	return nil
}

// AddLogSize adds n to the job's stored log size and returns the total.
func (db *DB) AddLogSize(ctx context.Context, jobID int64, n int64) (int64, error) {
	var total int64
	err := db.pool.QueryRow(ctx, `UPDATE jobs SET log_size = log_size + $1 WHERE id = $2 RETURNING log_size`,
		n, jobID).Scan(&total)
	if err != nil {
		return 0, wrap(err, "add log size of job %d", jobID)
	}
	return total, nil
}

// ExpiredLeases lists running jobs whose lease ended before now, the
// longest expired first.
func (db *DB) ExpiredLeases(ctx context.Context, now time.Time) ([]*store.Job, error) {
	js, err := list(ctx, db.pool, scanJob, `SELECT `+jobCols+` FROM jobs
		WHERE status = 'running' AND lease_until < $1 ORDER BY lease_until, id`, tv(now))
	if err != nil {
		return nil, wrap(err, "expired leases")
	}
	return js, nil
}

// QueueStats counts pending jobs and how long the oldest has waited.
func (db *DB) QueueStats(ctx context.Context, now time.Time) (int, time.Duration, error) {
	var n int
	var oldest time.Time
	err := db.pool.QueryRow(ctx, `SELECT count(*), min(queued_at) FROM jobs WHERE status = 'pending'`).
		Scan(&n, timeCol{&oldest})
	if err != nil {
		return 0, 0, wrap(err, "queue stats")
	}
	if n == 0 || oldest.IsZero() || oldest.After(now) {
		return n, 0, nil
	}
	return n, now.Sub(oldest), nil
}
