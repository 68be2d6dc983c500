package sqlite

import (
	"context"
	"strings"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

// AppendEvent stores e, setting e.ID and, when zero, e.CreatedAt. IDs
// come from AUTOINCREMENT on the single writer connection, so they are
// committed in increasing order and a reader past ID n never misses an
// event below it.
func (db *DB) AppendEvent(ctx context.Context, e *store.Event) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt = norm(e.CreatedAt)
	err := db.w.QueryRowContext(ctx, `INSERT INTO events (project_id, pipeline_id, job_id, type, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		e.ProjectID, e.PipelineID, e.JobID, e.Type, jv(e.Data), tv(e.CreatedAt)).Scan(&e.ID)
	if err != nil {
		return wrap(err, "append %s event", e.Type)
	}
	return nil
}

// EventsAfter returns up to limit (≤ 0: 100) events with ID > after that
// match f, oldest first.
func (db *DB) EventsAfter(ctx context.Context, after int64, f store.EventFilter, limit int) ([]*store.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	conds := []string{"id > ?"}
	args := []any{after}
	if f.ProjectID != 0 {
		conds, args = append(conds, "project_id = ?"), append(args, f.ProjectID)
	}
	if f.PipelineID != 0 {
		conds, args = append(conds, "pipeline_id = ?"), append(args, f.PipelineID)
	}
	if f.JobID != 0 {
		conds, args = append(conds, "job_id = ?"), append(args, f.JobID)
	}
	es, err := list(ctx, db.r, func(s scanner) (*store.Event, error) {
		e := &store.Event{}
		return e, s.Scan(&e.ID, &e.ProjectID, &e.PipelineID, &e.JobID, &e.Type, sqlcol.JSON{M: &e.Data}, timeCol{&e.CreatedAt})
	}, `SELECT id, project_id, pipeline_id, job_id, type, data, created_at FROM events
		WHERE `+strings.Join(conds, " AND ")+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, wrap(err, "events after %d", after)
	}
	return es, nil
}
