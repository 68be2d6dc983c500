package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Duration is a length of time written the way Go ("1m30s", "500ms") or
// GitLab ("30", "2 mins", "1:30") write it. It marshals back to Go's form so
// golden files and persisted specs stay readable.
type Duration time.Duration

// ParseDuration reads a Go duration, or failing that a GitLab one (a bare
// number is seconds). Negative durations are refused: every duration in a
// deploy spec is a wait.
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	d, err := time.ParseDuration(in)
	if err != nil {
		d, err = pipeline.ParseDuration(in)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration like 30s or 1m30s, or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return Duration(d), nil
}

// Duration converts to the standard library type.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String is Go's spelling ("30s", "1m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes Go's spelling.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText accepts everything ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// IntOrPercent is a count of replicas, either absolute ("1") or a share of
// the desired replicas ("25%"), like Kubernetes' IntOrString for maxSurge and
// maxUnavailable.
type IntOrPercent struct {
	Value   int
	Percent bool
}

// Int is an absolute count.
func Int(n int) IntOrPercent { return IntOrPercent{Value: n} }

// Percent is a share of the desired replicas.
func Percent(p int) IntOrPercent { return IntOrPercent{Value: p, Percent: true} }

// maxIntOrPercent keeps Scaled's arithmetic far from overflow.
const maxIntOrPercent = 1_000_000

// ParseIntOrPercent reads "3" or "25%".
func ParseIntOrPercent(s string) (IntOrPercent, error) {
	in := strings.TrimSpace(s)
	pct := strings.HasSuffix(in, "%")
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(in, "%")))
	if err != nil {
		return IntOrPercent{}, fmt.Errorf("invalid count %q: want a whole number like 1 or a percentage like 25%%", s)
	}
	if n < 0 {
		return IntOrPercent{}, fmt.Errorf("invalid count %q: must not be negative", s)
	}
	if n > maxIntOrPercent {
		return IntOrPercent{}, fmt.Errorf("invalid count %q: at most %d", s, maxIntOrPercent)
	}
	return IntOrPercent{Value: n, Percent: pct}, nil
}

// Scaled resolves the value against total replicas. Kubernetes rounds
// maxSurge up and maxUnavailable down, so the caller says which.
func (v IntOrPercent) Scaled(total int, roundUp bool) int {
	if !v.Percent {
		return v.Value
	}
	if total <= 0 || v.Value <= 0 {
		return 0
	}
	x := int64(v.Value) * int64(total)
	if roundUp {
		x += 99
	}
	r := x / 100
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(r)
}

// IsZero reports whether the value resolves to zero for any total.
func (v IntOrPercent) IsZero() bool { return v.Value == 0 }

// String is "3" or "25%".
func (v IntOrPercent) String() string {
	if v.Percent {
		return strconv.Itoa(v.Value) + "%"
	}
	return strconv.Itoa(v.Value)
}

// MarshalJSON writes a number for a count and a string for a percentage, as
// Kubernetes does.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.Percent {
		return json.Marshal(v.String())
	}
	return json.Marshal(v.Value)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 {
			return errors.New("count must not be negative")
		}
		*v = IntOrPercent{Value: n}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("count must be a number or a percentage string: %w", err)
	}
	p, err := ParseIntOrPercent(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}
