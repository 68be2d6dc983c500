package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlcol"
)

func scanRecord(s scanner) (*store.Record, error) {
	r := &store.Record{}
	err := s.Scan(&r.Kind, &r.Key, &r.Version, sqlcol.JSON{M: &r.Data}, timeCol{&r.UpdatedAt})
	return r, err
}

// GetRecord returns the record of kind and key.
func (db *DB) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	r, err := scanRecord(db.pool.QueryRow(ctx,
		`SELECT kind, key, version, data, updated_at FROM records WHERE kind = $1 AND key = $2`, kind, key))
	if err != nil {
		return nil, wrap(err, "get record %s/%s", kind, key)
	}
	return r, nil
}

// PutRecord writes r if the stored version is still r.Version.
func (db *DB) PutRecord(ctx context.Context, r *store.Record) error {
	at := now()
	var tag pgconn.CommandTag
	var err error
	if r.Version == 0 {
		tag, err = db.pool.Exec(ctx, `INSERT INTO records (kind, key, version, data, updated_at) VALUES ($1, $2, 1, $3, $4)
			ON CONFLICT (kind, key) DO NOTHING`, r.Kind, r.Key, jv(r.Data), tv(at))
	} else {
		tag, err = db.pool.Exec(ctx, `UPDATE records SET version = version + 1, data = $1, updated_at = $2
			WHERE kind = $3 AND key = $4 AND version = $5`, jv(r.Data), tv(at), r.Kind, r.Key, r.Version)
	}
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("version %d is not the stored one: %w", r.Version, store.ErrConflict)
	}
	if err != nil {
		return wrap(err, "put record %s/%s", r.Kind, r.Key)
	}
	r.Version++
	r.UpdatedAt = at
	return nil
}

// ListRecords returns the records of kind whose key starts with prefix.
func (db *DB) ListRecords(ctx context.Context, kind, prefix string) ([]*store.Record, error) {
	rs, err := list(ctx, db.pool, scanRecord, `SELECT kind, key, version, data, updated_at FROM records
		WHERE kind = $1 AND left(key, $2) = $3 ORDER BY key COLLATE "C"`, kind, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, wrap(err, "list records %s/%s*", kind, prefix)
	}
	return rs, nil
}

// DeleteRecord removes a record; a missing one is ErrNotFound.
func (db *DB) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := mustAffect(db.pool.Exec(ctx, `DELETE FROM records WHERE kind = $1 AND key = $2`, kind, key)); err != nil {
		return wrap(err, "delete record %s/%s", kind, key)
	}
	return nil
}
