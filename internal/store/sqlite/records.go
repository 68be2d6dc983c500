package sqlite

import (
	"context"
	"database/sql"
	"fmt"

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
	r, err := scanRecord(db.r.QueryRowContext(ctx,
		`SELECT kind, key, version, data, updated_at FROM records WHERE kind = ? AND key = ?`, kind, key))
	if err != nil {
		return nil, wrap(err, "get record %s/%s", kind, key)
	}
	return r, nil
}

// PutRecord writes r if the stored version is still r.Version.
func (db *DB) PutRecord(ctx context.Context, r *store.Record) error {
	at := now()
	var res sql.Result
	var err error
	if r.Version == 0 {
		res, err = db.w.ExecContext(ctx, `INSERT INTO records (kind, key, version, data, updated_at) VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (kind, key) DO NOTHING`, r.Kind, r.Key, jv(r.Data), tv(at))
	} else {
		res, err = db.w.ExecContext(ctx, `UPDATE records SET version = version + 1, data = ?, updated_at = ?
			WHERE kind = ? AND key = ? AND version = ?`, jv(r.Data), tv(at), r.Kind, r.Key, r.Version)
	}
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = fmt.Errorf("version %d is not the stored one: %w", r.Version, store.ErrConflict)
		}
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
	rs, err := list(ctx, db.r, scanRecord, `SELECT kind, key, version, data, updated_at FROM records
		WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key`, kind, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, wrap(err, "list records %s/%s*", kind, prefix)
	}
	return rs, nil
}

// DeleteRecord removes a record; a missing one is ErrNotFound.
func (db *DB) DeleteRecord(ctx context.Context, kind, key string) error {
	if err := mustAffect(db.w.ExecContext(ctx, `DELETE FROM records WHERE kind = ? AND key = ?`, kind, key)); err != nil {
		return wrap(err, "delete record %s/%s", kind, key)
	}
	return nil
}
