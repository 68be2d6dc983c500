// Package sqlcol holds the column scanners both SQL stores share: JSON
// documents, tag lists and durations come back from SQLite and PostgreSQL
// in the same Go shapes.
package sqlcol

import (
	"encoding/json"
	"fmt"
	"time"
)

// JSON scans a JSON column; NULL is nil.
type JSON struct{ M *json.RawMessage }

// Scan implements sql.Scanner.
func (c JSON) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.M = nil
	case string:
		*c.M = json.RawMessage(x)
	case []byte:
		*c.M = append(json.RawMessage(nil), x...)
	default:
		return fmt.Errorf("JSON column holds %T", v)
	}
	return nil
}

// Tags scans a JSON array of tags; NULL and [] are nil.
type Tags struct{ Tags *[]string }

// Scan implements sql.Scanner.
func (c Tags) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		*c.Tags = nil
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("tags column holds %T", v)
	}
	var tags []string
	if err := json.Unmarshal(b, &tags); err != nil {
		return fmt.Errorf("tags column: %w", err)
	}
	if len(tags) == 0 {
		tags = nil
	}
	*c.Tags = tags
	return nil
}

// Duration scans nanoseconds kept as an integer.
type Duration struct{ D *time.Duration }

// Scan implements sql.Scanner.
func (c Duration) Scan(v any) error {
	x, ok := v.(int64)
	if !ok {
		return fmt.Errorf("duration column holds %T", v)
	}
	*c.D = time.Duration(x)
	return nil
}
