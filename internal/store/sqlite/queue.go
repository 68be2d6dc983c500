package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// ClaimJob gives r the oldest pending job (by QueuedAt, then ID) whose
// tags are all among r's; an untagged job only when r.RunUntagged. Tags
// are matched in SQL with json_each, so jobs no runner can take never
// hide the ones behind them. Statements on the single writer connection
// run one at a time, so two claims never get one job.
func (db *DB) ClaimJob(ctx context.Context, r *store.Runner, lease time.Time) (*store.Job, error) {
	j, err := scanJob(db.w.QueryRowContext(ctx, `UPDATE jobs SET status = 'running', runner_id = ?, lease_until = ?,
		started_at = ? WHERE id = (
			SELECT j.id FROM jobs j
			WHERE j.status = 'pending'
				AND (j.tags <> '[]' OR ?)
				AND NOT EXISTS (SELECT 1 FROM json_each(j.tags) jt
					WHERE jt.value NOT IN (SELECT rt.value FROM json_each(?) rt))
			ORDER BY j.queued_at, j.id LIMIT 1)
		RETURNING `+jobCols, r.ID, tv(lease), tv(now()), r.RunUntagged, tagsv(r.Tags)))
	if err == sql.ErrNoRows {
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
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = ?`, jobID).Scan(&one)
	if err == sql.ErrNoRows {
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
	err := db.w.QueryRowContext(ctx, `UPDATE jobs SET lease_until = ?
		WHERE id = ? AND runner_id = ? AND status = 'running' RETURNING cancel_requested`,
		tv(lease), jobID, runnerID).Scan(&cancel)
	if err == sql.ErrNoRows {
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
	res, err := db.w.ExecContext(ctx, `UPDATE jobs SET status = ?, exit_code = ?, failure_reason = ?, coverage = ?,
		result = ?, artifacts_size = ?, artifacts_expire_at = ?, finished_at = ?, lease_until = NULL
		WHERE id = ? AND runner_id = ? AND status = 'running'`,
		r.Status, r.ExitCode, r.FailureReason, r.Coverage, jv(r.Detail), r.ArtifactsSize, tv(r.ArtifactsExpireAt),
		tv(fin), jobID, runnerID)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = db.leaseLost(ctx, jobID)
		}
	}
	if err != nil {
		return fmt.Errorf("finish job %d for runner %d: %w", jobID, runnerID, err)
	}
	return nil
}

// AddLogSize adds n to the job's stored log size and returns the total.
func (db *DB) AddLogSize(ctx context.Context, jobID int64, n int64) (int64, error) {
	var total int64
	err := db.w.QueryRowContext(ctx, `UPDATE jobs SET log_size = log_size + ? WHERE id = ? RETURNING log_size`,
		n, jobID).Scan(&total)
	if err != nil {
		return 0, wrap(err, "add log size of job %d", jobID)
	}
	return total, nil
}

// ExpiredLeases lists running jobs whose lease ended before now, the
// longest expired first.
func (db *DB) ExpiredLeases(ctx context.Context, now time.Time) ([]*store.Job, error) {
	js, err := list(ctx, db.r, scanJob, `SELECT `+jobCols+` FROM jobs
		WHERE status = 'running' AND lease_until < ? ORDER BY lease_until, id`, tv(now))
	if err != nil {
		return nil, wrap(err, "expired leases")
	}
	return js, nil
}

// QueueStats counts pending jobs and how long the oldest has waited.
func (db *DB) QueueStats(ctx context.Context, now time.Time) (int, time.Duration, error) {
	var n int
	var oldest time.Time
	err := db.r.QueryRowContext(ctx, `SELECT count(*), min(queued_at) FROM jobs WHERE status = 'pending'`).
		Scan(&n, timeCol{&oldest})
	if err != nil {
		return 0, 0, wrap(err, "queue stats")
	}
	if n == 0 || oldest.IsZero() || oldest.After(now) {
		return n, 0, nil
	}
	return n, now.Sub(oldest), nil
}
