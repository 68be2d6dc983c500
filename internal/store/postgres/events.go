package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

// AppendEvent stores e, setting e.ID and, when zero, e.CreatedAt. The
// advisory lock makes inserts, and so the sequence's numbers, commit one
// at a time in increasing order: a reader past ID n never misses an
// event below it.
func (db *DB) AppendEvent(ctx context.Context, e *store.Event) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now()
	}
	e.CreatedAt = norm(e.CreatedAt)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventsLock); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO events (project_id, pipeline_id, job_id, type, data, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			e.ProjectID, e.PipelineID, e.JobID, e.Type, jv(e.Data), tv(e.CreatedAt)).Scan(&e.ID)
	})
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
	conds := []string{"id > $1"}
	args := []any{after}
	add := func(col string, v int64) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if f.ProjectID != 0 {
		add("project_id", f.ProjectID)
	}
	if f.PipelineID != 0 {
		add("pipeline_id", f.PipelineID)
	}
	if f.JobID != 0 {
		add("job_id", f.JobID)
	}
	es, err := list(ctx, db.pool, func(s scanner) (*store.Event, error) {
		e := &store.Event{}
		return e, s.Scan(&e.ID, &e.ProjectID, &e.PipelineID, &e.JobID, &e.Type, sqlcol.JSON{M: &e.Data}, timeCol{&e.CreatedAt})
	}, `SELECT id, project_id, pipeline_id, job_id, type, data, created_at FROM events
		WHERE `+strings.Join(conds, " AND ")+fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args)+1), append(args, limit)...)
	if err != nil {
		return nil, wrap(err, "events after %d", after)
	}
	return es, nil
}
