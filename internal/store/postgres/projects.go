package postgres

import (
	"context"
	"errors"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
	"github.com/jackc/pgx/v5"
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
	err := db.pool.QueryRow(ctx, `INSERT INTO projects (name, repo_url, default_branch, webhook_secret, public, poll_interval, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		p.Name, p.RepoURL, p.DefaultBranch, p.WebhookSecret, p.Public, int64(p.PollInterval), tv(p.CreatedAt)).Scan(&p.ID)
	if err != nil {
		return wrap(err, "create project %q", p.Name)
	}
	return nil
}

// UpdateProject writes every field but ID and CreatedAt.
func (db *DB) UpdateProject(ctx context.Context, p *store.Project) error {
	err := mustAffect(db.pool.Exec(ctx, `UPDATE projects SET name = $1, repo_url = $2, default_branch = $3,
		webhook_secret = $4, public = $5, poll_interval = $6 WHERE id = $7`,
		p.Name, p.RepoURL, p.DefaultBranch, p.WebhookSecret, p.Public, int64(p.PollInterval), p.ID))
	if err != nil {
		return wrap(err, "update project %d", p.ID)
	}
	return nil
}

// Project finds a project by name.
func (db *DB) Project(ctx context.Context, name string) (*store.Project, error) {
	p, err := scanProject(db.pool.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE name = $1`, name))
	if err != nil {
		return nil, wrap(err, "project %q", name)
	}
	return p, nil
}

// ProjectByID finds a project by ID.
func (db *DB) ProjectByID(ctx context.Context, id int64) (*store.Project, error) {
	p, err := scanProject(db.pool.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, id))
	if err != nil {
		return nil, wrap(err, "project %d", id)
	}
	return p, nil
}

// ListProjects returns every project by name.
func (db *DB) ListProjects(ctx context.Context) ([]*store.Project, error) {
	ps, err := list(ctx, db.pool, scanProject, `SELECT `+projectCols+` FROM projects ORDER BY name`)
	if err != nil {
		return nil, wrap(err, "list projects")
	}
	return ps, nil
}

// DeleteProject removes a project with its variables, pipelines, jobs,
// schedules, job tokens and events.
func (db *DB) DeleteProject(ctx context.Context, id int64) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE project_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE project_id = $1`, id); err != nil {
			return err
		}
		return mustAffect(tx.Exec(ctx, `DELETE FROM projects WHERE id = $1`, id))
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
	_, err := db.pool.Exec(ctx, `INSERT INTO variables (project_id, key, value, masked, protected, file)
		VALUES ($1, $2, $3, $4, $5, $6)
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
	vs, err := list(ctx, db.pool, func(s scanner) (*store.Variable, error) {
		v := &store.Variable{}
		return v, s.Scan(&v.ProjectID, &v.Key, &v.Value, &v.Masked, &v.Protected, &v.File)
	}, `SELECT project_id, key, value, masked, protected, file FROM variables WHERE project_id = $1 ORDER BY key`, projectID)
	if err != nil {
		return nil, wrap(err, "variables of project %d", projectID)
	}
	return vs, nil
}

// DeleteVariable removes one variable; ErrNotFound when there is none.
func (db *DB) DeleteVariable(ctx context.Context, projectID int64, key string) error {
	err := mustAffect(db.pool.Exec(ctx, `DELETE FROM variables WHERE project_id = $1 AND key = $2`, projectID, key))
	if err != nil {
		return wrap(err, "delete variable %s of project %d", key, projectID)
	}
	return nil
}
