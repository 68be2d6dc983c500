package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
	"github.com/jackc/pgx/v5"
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

const insertJobSQL = `INSERT INTO jobs (pipeline_id, project_id, name, stage, attempt, status, when_,
	allow_failure, tags, retried, played, played_by, cancel_requested, runner_id, lease_until, runner_losses,
	payload, result, exit_code, failure_reason, reason, coverage, log_size, artifacts_size, artifacts_expire_at,
	created_at, queued_at, started_at, finished_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
	$23, $24, $25, $26, $27, $28, $29) RETURNING id`

// insertJobs stores jobs in one round trip and sets their IDs.
func insertJobs(ctx context.Context, tx pgx.Tx, jobs []*store.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, j := range jobs {
		b.Queue(insertJobSQL, j.PipelineID, j.ProjectID, j.Name, j.Stage, j.Attempt, j.Status, j.When,
			j.AllowFailure, tagsv(j.Tags), j.Retried, j.Played, j.PlayedBy, j.CancelRequested, j.RunnerID,
			tv(j.LeaseUntil), j.RunnerLosses, jv(j.Payload), jv(j.Result), j.ExitCode, j.FailureReason, j.Reason,
			j.Coverage, j.LogSize, j.ArtifactsSize, tv(j.ArtifactsExpireAt), tv(j.CreatedAt), tv(j.QueuedAt),
			tv(j.StartedAt), tv(j.FinishedAt))
	}
	res := tx.SendBatch(ctx, b)
	for _, j := range jobs {
		if err := res.QueryRow().Scan(&j.ID); err != nil {
			_ = res.Close()
			return fmt.Errorf("job %q: %w", j.Name, err)
		}
	}
	return res.Close()
}

// CreatePipeline stores p and its jobs in one transaction. A DeliveryID
// the project already has is ErrConflict with the existing pipeline's ID
// in p.ID; two servers inserting the same delivery at once meet on the
// unique index, and the second waits for the first to commit.
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
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO pipelines (project_id, ref, tag, sha, before_sha, source, status,
			message, author, delivery_id, variables, trigger, error, created_at, started_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (project_id, delivery_id) WHERE delivery_id <> '' DO NOTHING RETURNING id`,
			p.ProjectID, p.Ref, p.Tag, p.SHA, p.BeforeSHA, p.Source, p.Status, p.Message, p.Author, p.DeliveryID,
			jv(p.Variables), jv(p.Trigger), p.Error, tv(p.CreatedAt), tv(p.StartedAt), tv(p.FinishedAt)).Scan(&p.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			// The statement's snapshot predates the conflicting commit;
			// this one sees it.
			if err := tx.QueryRow(ctx, `SELECT id FROM pipelines WHERE project_id = $1 AND delivery_id = $2`,
				p.ProjectID, p.DeliveryID).Scan(&existing); err != nil {
				return fmt.Errorf("find the pipeline of delivery %q: %w", p.DeliveryID, err)
			}
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		for _, j := range jobs {
			j.PipelineID, j.ProjectID = p.ID, p.ProjectID
			stampJob(j, t)
		}
		return insertJobs(ctx, tx, jobs)
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
	p, err := scanPipeline(db.pool.QueryRow(ctx, `SELECT `+pipelineCols+` FROM pipelines WHERE id = $1`, id))
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
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.ProjectID != 0 {
		add("project_id = $%d", f.ProjectID)
	}
	if f.Ref != "" {
		add("ref = $%d", f.Ref)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if paging && f.BeforeID > 0 {
		add("id < $%d", f.BeforeID)
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
	ps, err := list(ctx, db.pool, scanPipeline, `SELECT `+pipelineCols+` FROM pipelines`+where+
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)+1), append(args, limit)...)
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
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pipelines`+where, args...).Scan(&n); err != nil {
		return 0, wrap(err, "count pipelines")
	}
	return n, nil
}

// UpdatePipeline writes Status, StartedAt, FinishedAt and Error.
func (db *DB) UpdatePipeline(ctx context.Context, p *store.Pipeline) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE pipelines SET status = $1, started_at = $2, finished_at = $3, error = $4
		WHERE id = $5`, p.Status, tv(p.StartedAt), tv(p.FinishedAt), p.Error, p.ID))
	if err != nil {
		return wrap(err, "update pipeline %d", p.ID)
	}
	return nil
}

// AddJob stores a new job of j.PipelineID, taking the pipeline's project.
func (db *DB) AddJob(ctx context.Context, j *store.Job) error {
	stampJob(j, now())
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT project_id FROM pipelines WHERE id = $1`, j.PipelineID).Scan(&j.ProjectID); err != nil {
			return err
		}
		return insertJobs(ctx, tx, []*store.Job{j})
	})
	if err != nil {
		j.ID = 0
		return wrap(err, "add job %q to pipeline %d", j.Name, j.PipelineID)
	}
	return nil
}

// Job finds a job by ID.
func (db *DB) Job(ctx context.Context, id int64) (*store.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(err, "job %d", id)
	}
	return j, nil
}

// Jobs returns a pipeline's jobs in ID order.
func (db *DB) Jobs(ctx context.Context, pipelineID int64) ([]*store.Job, error) {
	js, err := list(ctx, db.pool, scanJob, `SELECT `+jobCols+` FROM jobs WHERE pipeline_id = $1 ORDER BY id`, pipelineID)
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
	err := mustAffect(db.pool.Exec(ctx, `UPDATE jobs SET name = $1, stage = $2, attempt = $3, status = $4, when_ = $5,
		allow_failure = $6, tags = $7, retried = $8, played = $9, played_by = $10, cancel_requested = $11, runner_id = $12,
		lease_until = $13, runner_losses = $14, payload = $15, result = $16, exit_code = $17, failure_reason = $18, reason = $19,
		coverage = $20, log_size = $21, artifacts_size = $22, artifacts_expire_at = $23, queued_at = $24, started_at = $25,
		finished_at = $26 WHERE id = $27`,
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
// out, oldest first; rows another server is taking at the same moment
// are skipped, never shared. It returns the IDs of all it holds now,
// ascending.
func (db *DB) ClaimPipelines(ctx context.Context, owner string, lease time.Time, limit int) ([]int64, error) {
	if owner == "" {
		return nil, errors.New("claim pipelines: empty owner")
	}
	var ids []int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE pipelines SET owner_lease = $1 WHERE owner = $2 AND `+unfinished,
			tv(lease), owner); err != nil {
			return err
		}
		if limit > 0 {
			if _, err := tx.Exec(ctx, `UPDATE pipelines SET owner = $1, owner_lease = $2 WHERE id IN (
				SELECT id FROM pipelines WHERE `+unfinished+` AND owner <> $1 AND (owner = '' OR owner_lease < $3)
				ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)`, owner, tv(lease), tv(time.Now()), limit); err != nil {
				return err
			}
		}
		var err error
		ids, err = list(ctx, tx, func(s scanner) (int64, error) {
			var id int64
			return id, s.Scan(&id)
		}, `SELECT id FROM pipelines WHERE owner = $1 AND `+unfinished+` ORDER BY id`, owner)
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
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var holder string
		if err := tx.QueryRow(ctx, `SELECT owner FROM pipelines WHERE id = $1 FOR UPDATE`, pipelineID).Scan(&holder); err != nil {
			return err
		}
		if holder != owner {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE pipelines SET owner = '', owner_lease = NULL WHERE id = $1`, pipelineID)
		return err
	})
	if err != nil {
		return wrap(err, "release pipeline %d", pipelineID)
	}
	return nil
}
