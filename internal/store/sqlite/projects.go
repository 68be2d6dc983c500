package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

const projectCols = `id, name, repo_url, default_branch, webhook_secret, public, poll_interval, created_at`

func scanProject(s scanner) (*store.Project, error) {
	p := &store.Project{}
	err := s.Scan(&p.ID, &p.Name, &p.RepoURL, &p.DefaultBranch, &p.WebhookSecret, &p.Public,
		sqlcol.Duration{D: &p.PollInterval}, timeCol{&p.CreatedAt})
	return p, err
}

// CreateProject stores p, setting p.ID and, when zero, p.CreatedAt;
// ErrConflict when the name is taken.
func (db *DB) CreateProject(ctx context.Context, p *store.Project) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now()
	}
	p.CreatedAt = norm(p.CreatedAt)
	err := db.w.QueryRowContext(ctx, `INSERT INTO projects (name, repo_url, default_branch, webhook_secret, public, poll_interval, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.Name, p.RepoURL, p.DefaultBranch, p.WebhookSecret, p.Public, int64(p.PollInterval), tv(p.CreatedAt)).Scan(&p.ID)
	if err != nil {
		return wrap(err, "create project %q", p.Name)
	}
	return nil
}

// UpdateProject writes every field but ID and CreatedAt.
func (db *DB) UpdateProject(ctx context.Context, p *store.Project) error {
	err := mustAffect(db.w.ExecContext(ctx, `UPDATE projects SET name = ?, repo_url = ?, default_branch = ?,
		webhook_secret = ?, public = ?, poll_interval = ? WHERE id = ?`,
		p.Name, p.RepoURL, p.DefaultBranch, p.WebhookSecret, p.Public, int64(p.PollInterval), p.ID))
	if err != nil {
		return wrap(err, "update project %d", p.ID)
	}
	return nil
}

// Project finds a project by name.
func (db *DB) Project(ctx context.Context, name string) (*store.Project, error) {
	p, err := scanProject(db.r.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE name = ?`, name))
	if err != nil {
		return nil, wrap(err, "project %q", name)
	}
	return p, nil
}

// ProjectByID finds a project by ID.
func (db *DB) ProjectByID(ctx context.Context, id int64) (*store.Project, error) {
	p, err := scanProject(db.r.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id))
	if err != nil {
		return nil, wrap(err, "project %d", id)
	}
	return p, nil
}

// ListProjects returns every project by name.
func (db *DB) ListProjects(ctx context.Context) ([]*store.Project, error) {
	ps, err := list(ctx, db.r, scanProject, `SELECT `+projectCols+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, wrap(err, "list projects")
	}
	return ps, nil
}

// DeleteProject removes a project with its variables, pipelines, jobs,
// schedules, job tokens and events.
func (db *DB) DeleteProject(ctx context.Context, id int64) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE project_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE project_id = ?`, id); err != nil {
			return err
		}
		return mustAffect(tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id))
	})
	if err != nil {
		return wrap(err, "delete project %d", id)
	}
	return nil
}

// SetVariable creates or replaces the variable of that key; ErrNotFound
// when the project does not exist.
func (db *DB) SetVariable(ctx context.Context, v *store.Variable) error {
	if v.Key == "" {
		return errors.New("set variable: empty key")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO variables (project_id, key, value, masked, protected, file)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value, masked = excluded.masked,
			protected = excluded.protected, file = excluded.file`,
		v.ProjectID, v.Key, v.Value, v.Masked, v.Protected, v.File)
	if err != nil {
		return wrap(err, "set variable %s of project %d", v.Key, v.ProjectID)
	}
	return nil
}

// Variables returns a project's variables by key.
func (db *DB) Variables(ctx context.Context, projectID int64) ([]*store.Variable, error) {
	vs, err := list(ctx, db.r, func(s scanner) (*store.Variable, error) {
		v := &store.Variable{}
		return v, s.Scan(&v.ProjectID, &v.Key, &v.Value, &v.Masked, &v.Protected, &v.File)
	}, `SELECT project_id, key, value, masked, protected, file FROM variables WHERE project_id = ? ORDER BY key`, projectID)
	if err != nil {
		return nil, wrap(err, "variables of project %d", projectID)
	}
	return vs, nil
}

// DeleteVariable removes one variable; ErrNotFound when there is none.
func (db *DB) DeleteVariable(ctx context.Context, projectID int64, key string) error {
	err := mustAffect(db.w.ExecContext(ctx, `DELETE FROM variables WHERE project_id = ? AND key = ?`, projectID, key))
	if err != nil {
		return wrap(err, "delete variable %s of project %d", key, projectID)
	}
	return nil
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
