package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

const pipelineCols = `id, project_id, ref, tag, sha, before_sha, source, status, message, author, delivery_id,
	variables, trigger, error, created_at, started_at, finished_at`

func scanPipeline(s scanner) (*store.Pipeline, error) {
	p := &store.Pipeline{}
	err := s.Scan(&p.ID, &p.ProjectID, &p.Ref, &p.Tag, &p.SHA, &p.BeforeSHA, &p.Source, &p.Status, &p.Message,
		&p.Author, &p.DeliveryID, sqlcol.JSON{M: &p.Variables}, sqlcol.JSON{M: &p.Trigger}, &p.Error,
		timeCol{&p.CreatedAt}, timeCol{&p.StartedAt}, timeCol{&p.FinishedAt})
	return p, err
}

const jobCols = `id, pipeline_id, project_id, name, stage, attempt, status, when_, allow_failure, tags, retried,
	played, played_by, cancel_requested, runner_id, lease_until, runner_losses, payload, result, exit_code,
	failure_reason, reason, coverage, log_size, artifacts_size, artifacts_expire_at,
	created_at, queued_at, started_at, finished_at`

func scanJob(s scanner) (*store.Job, error) {
	j := &store.Job{}
	err := s.Scan(&j.ID, &j.PipelineID, &j.ProjectID, &j.Name, &j.Stage, &j.Attempt, &j.Status, &j.When,
		&j.AllowFailure, sqlcol.Tags{Tags: &j.Tags}, &j.Retried, &j.Played, &j.PlayedBy, &j.CancelRequested,
		&j.RunnerID, timeCol{&j.LeaseUntil}, &j.RunnerLosses, sqlcol.JSON{M: &j.Payload}, sqlcol.JSON{M: &j.Result},
		&j.ExitCode, &j.FailureReason, &j.Reason, &j.Coverage, &j.LogSize, &j.ArtifactsSize,
		timeCol{&j.ArtifactsExpireAt}, timeCol{&j.CreatedAt}, timeCol{&j.QueuedAt}, timeCol{&j.StartedAt},
		timeCol{&j.FinishedAt})
	return j, err
}

// stampJob fills the times the store owns: CreatedAt when zero, and
// QueuedAt of a pending job, which orders the queue.
func stampJob(j *store.Job, t time.Time) {
	if j.CreatedAt.IsZero() {
		j.CreatedAt = t
	}
	j.CreatedAt = norm(j.CreatedAt)
	if j.Status == store.StatusPending && j.QueuedAt.IsZero() {
		j.QueuedAt = t
	}
	j.QueuedAt = norm(j.QueuedAt)
}

func insertJob(ctx context.Context, tx *sql.Tx, j *store.Job) error {
	return tx.QueryRowContext(ctx, `INSERT INTO jobs (pipeline_id, project_id, name, stage, attempt, status, when_,
		allow_failure, tags, retried, played, played_by, cancel_requested, runner_id, lease_until, runner_losses,
		payload, result, exit_code, failure_reason, reason, coverage, log_size, artifacts_size, artifacts_expire_at,
		created_at, queued_at, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		j.PipelineID, j.ProjectID, j.Name, j.Stage, j.Attempt, j.Status, j.When, j.AllowFailure, tagsv(j.Tags),
		j.Retried, j.Played, j.PlayedBy, j.CancelRequested, j.RunnerID, tv(j.LeaseUntil), j.RunnerLosses,
		jv(j.Payload), jv(j.Result), j.ExitCode, j.FailureReason, j.Reason, j.Coverage, j.LogSize,
		j.ArtifactsSize, tv(j.ArtifactsExpireAt), tv(j.CreatedAt), tv(j.QueuedAt), tv(j.StartedAt),
		tv(j.FinishedAt)).Scan(&j.ID)
}

// CreatePipeline stores p and its jobs in one transaction. A DeliveryID
// the project already has is ErrConflict with the existing pipeline's ID
// in p.ID.
func (db *DB) CreatePipeline(ctx context.Context, p *store.Pipeline, jobs []*store.Job) error {
	for _, j := range jobs {
		if j == nil {
			return errors.New("create pipeline: nil job")
		}
	}
	t := now()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = t
	}
	p.CreatedAt = norm(p.CreatedAt)
	var existing int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if p.DeliveryID != "" {
			err := tx.QueryRowContext(ctx, `SELECT id FROM pipelines WHERE project_id = ? AND delivery_id = ?`,
				p.ProjectID, p.DeliveryID).Scan(&existing)
			if err == nil {
				return store.ErrConflict
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO pipelines (project_id, ref, tag, sha, before_sha, source, status,
			message, author, delivery_id, variables, trigger, error, created_at, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			p.ProjectID, p.Ref, p.Tag, p.SHA, p.BeforeSHA, p.Source, p.Status, p.Message, p.Author, p.DeliveryID,
			jv(p.Variables), jv(p.Trigger), p.Error, tv(p.CreatedAt), tv(p.StartedAt), tv(p.FinishedAt)).Scan(&p.ID)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			j.PipelineID, j.ProjectID = p.ID, p.ProjectID
			stampJob(j, t)
			if err := insertJob(ctx, tx, j); err != nil {
				return fmt.Errorf("job %q: %w", j.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		p.ID = existing
		for _, j := range jobs {
			j.ID = 0
		}
		return wrap(err, "create pipeline of project %d", p.ProjectID)
	}
	return nil
}

// Pipeline finds a pipeline by ID.
func (db *DB) Pipeline(ctx context.Context, id int64) (*store.Pipeline, error) {
	p, err := scanPipeline(db.r.QueryRowContext(ctx, `SELECT `+pipelineCols+` FROM pipelines WHERE id = ?`, id))
	if err != nil {
		return nil, wrap(err, "pipeline %d", id)
	}
	return p, nil
}

// pipelineWhere is the WHERE clause of a filter; paging adds BeforeID.
func pipelineWhere(f store.PipelineFilter, paging bool) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.ProjectID != 0 {
		add("project_id = ?", f.ProjectID)
	}
	if f.Ref != "" {
		add("ref = ?", f.Ref)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if paging && f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListPipelines returns the filter's pipelines newest (highest ID) first,
// at most f.Limit (0: 50), below f.BeforeID when set.
func (db *DB) ListPipelines(ctx context.Context, f store.PipelineFilter) ([]*store.Pipeline, error) {
	where, args := pipelineWhere(f, true)
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	ps, err := list(ctx, db.r, scanPipeline,
		`SELECT `+pipelineCols+` FROM pipelines`+where+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, wrap(err, "list pipelines")
	}
	return ps, nil
}

// CountPipelines counts the filter's pipelines, ignoring Limit and
// BeforeID (the total a paged list shows).
func (db *DB) CountPipelines(ctx context.Context, f store.PipelineFilter) (int, error) {
	where, args := pipelineWhere(f, false)
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pipelines`+where, args...).Scan(&n); err != nil {
		return 0, wrap(err, "count pipelines")
	}
	return n, nil
}

// UpdatePipeline writes Status, StartedAt, FinishedAt and Error.
func (db *DB) UpdatePipeline(ctx context.Context, p *store.Pipeline) error {
	err := mustAffect(db.w.ExecContext(ctx, `UPDATE pipelines SET status = ?, started_at = ?, finished_at = ?, error = ?
		WHERE id = ?`, p.Status, tv(p.StartedAt), tv(p.FinishedAt), p.Error, p.ID))
	if err != nil {
		return wrap(err, "update pipeline %d", p.ID)
	}
	return nil
}

// AddJob stores a new job of j.PipelineID, taking the pipeline's project.
func (db *DB) AddJob(ctx context.Context, j *store.Job) error {
	stampJob(j, now())
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT project_id FROM pipelines WHERE id = ?`, j.PipelineID).Scan(&j.ProjectID); err != nil {
			return err
		}
		return insertJob(ctx, tx, j)
	})
	if err != nil {
		j.ID = 0
		return wrap(err, "add job %q to pipeline %d", j.Name, j.PipelineID)
	}
	return nil
}

// Job finds a job by ID.
func (db *DB) Job(ctx context.Context, id int64) (*store.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if err != nil {
		return nil, wrap(err, "job %d", id)
	}
	return j, nil
}

// Jobs returns a pipeline's jobs in ID order.
func (db *DB) Jobs(ctx context.Context, pipelineID int64) ([]*store.Job, error) {
	js, err := list(ctx, db.r, scanJob, `SELECT `+jobCols+` FROM jobs WHERE pipeline_id = ? ORDER BY id`, pipelineID)
	if err != nil {
		return nil, wrap(err, "jobs of pipeline %d", pipelineID)
	}
	return js, nil
}

// UpdateJob writes every field of j but its ID, pipeline, project and
// CreatedAt. A job made pending without a QueuedAt is queued now.
func (db *DB) UpdateJob(ctx context.Context, j *store.Job) error {
	if j.Status == store.StatusPending && j.QueuedAt.IsZero() {
		j.QueuedAt = now()
	}
	err := mustAffect(db.w.ExecContext(ctx, `UPDATE jobs SET name = ?, stage = ?, attempt = ?, status = ?, when_ = ?,
		allow_failure = ?, tags = ?, retried = ?, played = ?, played_by = ?, cancel_requested = ?, runner_id = ?,
		lease_until = ?, runner_losses = ?, payload = ?, result = ?, exit_code = ?, failure_reason = ?, reason = ?,
		coverage = ?, log_size = ?, artifacts_size = ?, artifacts_expire_at = ?, queued_at = ?, started_at = ?,
		finished_at = ? WHERE id = ?`,
		j.Name, j.Stage, j.Attempt, j.Status, j.When, j.AllowFailure, tagsv(j.Tags), j.Retried, j.Played,
		j.PlayedBy, j.CancelRequested, j.RunnerID, tv(j.LeaseUntil), j.RunnerLosses, jv(j.Payload), jv(j.Result),
		j.ExitCode, j.FailureReason, j.Reason, j.Coverage, j.LogSize, j.ArtifactsSize, tv(j.ArtifactsExpireAt),
		tv(j.QueuedAt), tv(j.StartedAt), tv(j.FinishedAt), j.ID))
	if err != nil {
		return wrap(err, "update job %d", j.ID)
	}
	return nil
}

// unfinished is the SQL condition of a pipeline still to coordinate: one
// waiting on a manual job needs nobody until the job is played.
const unfinished = `status IN ('created', 'pending', 'running')`

// ClaimPipelines renews owner's lease on the unfinished pipelines it
// holds and takes up to limit more that nobody holds or whose lease ran
// out, oldest first. It returns the IDs of all it holds now, ascending.
func (db *DB) ClaimPipelines(ctx context.Context, owner string, lease time.Time, limit int) ([]int64, error) {
	if owner == "" {
		return nil, errors.New("claim pipelines: empty owner")
	}
	var ids []int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE pipelines SET owner_lease = ? WHERE owner = ? AND `+unfinished,
			tv(lease), owner); err != nil {
			return err
		}
		if limit > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE pipelines SET owner = ?, owner_lease = ? WHERE id IN (
				SELECT id FROM pipelines WHERE `+unfinished+` AND owner <> ? AND (owner = '' OR owner_lease < ?)
				ORDER BY id LIMIT ?)`, owner, tv(lease), owner, tv(time.Now()), limit); err != nil {
				return err
			}
		}
		var err error
		ids, err = list(ctx, tx, func(s scanner) (int64, error) {
			var id int64
			return id, s.Scan(&id)
		}, `SELECT id FROM pipelines WHERE owner = ? AND `+unfinished+` ORDER BY id`, owner)
		return err
	})
	if err != nil {
		return nil, wrap(err, "claim pipelines for %s", owner)
	}
	return ids, nil
}

// ReleasePipeline gives up owner's coordination of a pipeline; nothing
// happens when someone else holds it.
func (db *DB) ReleasePipeline(ctx context.Context, owner string, pipelineID int64) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var holder string
		if err := tx.QueryRowContext(ctx, `SELECT owner FROM pipelines WHERE id = ?`, pipelineID).Scan(&holder); err != nil {
			return err
		}
		if holder != owner {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE pipelines SET owner = '', owner_lease = NULL WHERE id = ?`, pipelineID)
		return err
	})
	if err != nil {
		return wrap(err, "release pipeline %d", pipelineID)
	}
	return nil
}
