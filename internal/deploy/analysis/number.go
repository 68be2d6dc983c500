package analysis

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Number is a float64 that survives JSON: NaN and ±Inf are legitimate
// measurements (a PromQL division by zero) but encoding/json refuses them,
// so they are written as the strings "NaN", "+Inf" and "-Inf", the way
// Prometheus' API writes them.
type Number float64

// MarshalJSON writes finite numbers as numbers and the others as strings.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes; null reads as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("read number %q: %w", b, err)
	}
	*n = Number(f)
	return nil
}

// String formats the number compactly, as records and reasons show it.
func (n Number) String() string { return formatValue(float64(n)) }

// formatValue writes short numbers exactly and long ones with four
// significant digits: enough to compare with a threshold, short enough for a
// status line.
func formatValue(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	if s := strconv.FormatFloat(f, 'g', -1, 64); len(s) <= 8 {
		return s
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}
