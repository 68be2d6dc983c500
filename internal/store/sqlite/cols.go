package sqlite

import (
	"encoding/json"
	"fmt"
	"time"
)

// Column conversions between the store's Go types and SQLite's: the
// *Col types scan a column into a field, the functions make a parameter.

// tv is a time parameter: microseconds since the epoch, NULL for zero.
func tv(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// norm is t as it comes back from the database, so a caller's struct
// matches what a later read returns.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// now is the current time as the database keeps it.
func now() time.Time { return norm(time.Now()) }

// jv is a JSON parameter: NULL when empty, the text as is otherwise.
func jv(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// tagsv is a tag list as a JSON array (never null).
func tagsv(tags []string) string {
	if len(tags) == 0 {
		return "[]"
	}
	b, err := json.Marshal(tags)
	if err != nil { // a []string always marshals
		return "[]"
	}
	return string(b)
}

type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }
