package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
	"github.com/jackc/pgx/v5"
)

const scheduleCols = `id, project_id, description, cron, ref, variables, active, next_run, last_run, created_at`

func scanSchedule(s scanner) (*store.Schedule, error) {
	sc := &store.Schedule{}
	err := s.Scan(&sc.ID, &sc.ProjectID, &sc.Description, &sc.Cron, &sc.Ref, sqlcol.JSON{M: &sc.Variables}, &sc.Active,
		timeCol{&sc.NextRun}, timeCol{&sc.LastRun}, timeCol{&sc.CreatedAt})
	return sc, err
}

// CreateSchedule stores s, setting s.ID and, when zero, s.CreatedAt;
// ErrNotFound when the project does not exist.
func (db *DB) CreateSchedule(ctx context.Context, s *store.Schedule) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	s.CreatedAt = norm(s.CreatedAt)
	err := db.pool.QueryRow(ctx, `INSERT INTO schedules (project_id, description, cron, ref, variables, active,
		next_run, last_run, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		s.ProjectID, s.Description, s.Cron, s.Ref, jv(s.Variables), s.Active, tv(s.NextRun), tv(s.LastRun),
		tv(s.CreatedAt)).Scan(&s.ID)
	if err != nil {
		return wrap(err, "create schedule of project %d", s.ProjectID)
	}
	return nil
}

// UpdateSchedule writes every field but ID, ProjectID and CreatedAt.
func (db *DB) UpdateSchedule(ctx context.Context, s *store.Schedule) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE schedules SET description = $1, cron = $2, ref = $3, variables = $4,
		active = $5, next_run = $6, last_run = $7 WHERE id = $8`,
		s.Description, s.Cron, s.Ref, jv(s.Variables), s.Active, tv(s.NextRun), tv(s.LastRun), s.ID))
	if err != nil {
		return wrap(err, "update schedule %d", s.ID)
	}
	return nil
}

// Schedules returns a project's schedules (every project's for 0) by ID.
func (db *DB) Schedules(ctx context.Context, projectID int64) ([]*store.Schedule, error) {
	q := `SELECT ` + scheduleCols + ` FROM schedules ORDER BY id`
	var args []any
	if projectID != 0 {
		q = `SELECT ` + scheduleCols + ` FROM schedules WHERE project_id = $1 ORDER BY id`
		args = append(args, projectID)
	}
	ss, err := list(ctx, db.pool, scanSchedule, q, args...)
	if err != nil {
		return nil, wrap(err, "schedules of project %d", projectID)
	}
	return ss, nil
}

// DeleteSchedule removes a schedule.
func (db *DB) DeleteSchedule(ctx context.Context, id int64) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM schedules WHERE id = $1`, id)); err != nil {
		return wrap(err, "delete schedule %d", id)
	}
	return nil
}

// ClaimDueSchedule takes the active schedule whose NextRun passed
// longest ago (a zero NextRun is never due), moves NextRun to next(s) and
// LastRun to now, and returns it as stored. The row stays locked until
// then and other servers skip it, so one occurrence runs once. next runs
// inside the transaction and must not call the store.
func (db *DB) ClaimDueSchedule(ctx context.Context, now time.Time, next func(*store.Schedule) time.Time) (*store.Schedule, error) {
	var s *store.Schedule
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		s, err = scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleCols+` FROM schedules
			WHERE active AND next_run IS NOT NULL AND next_run < $1 ORDER BY next_run, id LIMIT 1
			FOR UPDATE SKIP LOCKED`, tv(now)))
		if err != nil {
			return err
		}
		s.NextRun, s.LastRun = norm(next(s)), norm(now)
		_, err = tx.Exec(ctx, `UPDATE schedules SET next_run = $1, last_run = $2 WHERE id = $3`,
			tv(s.NextRun), tv(s.LastRun), s.ID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "claim due schedule")
	}
	return s, nil
}
