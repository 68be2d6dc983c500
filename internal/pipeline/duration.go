package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durationUnits maps GitLab's human duration words to their length.
// GitLab counts a month as 30 days and a year as 365 days.
var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "wk": 7 * 24 * time.Hour, "wks": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"mo": 30 * 24 * time.Hour, "mos": 30 * 24 * time.Hour, "month": 30 * 24 * time.Hour, "months": 30 * 24 * time.Hour,
	"y": 365 * 24 * time.Hour, "yr": 365 * 24 * time.Hour, "yrs": 365 * 24 * time.Hour, "year": 365 * 24 * time.Hour, "years": 365 * 24 * time.Hour,
}

// ParseDuration reads a GitLab duration such as "1h 30m", "3 hours",
// "2 hrs 20 min", "1 week", "1.5 days" or "3600" (bare numbers are seconds).
// It does not accept "never"; callers that allow it (expire_in) check first.
func ParseDuration(s string) (time.Duration, error) {
	src := strings.ToLower(strings.TrimSpace(s))
	if src == "" {
		return 0, fmt.Errorf("invalid duration %q: empty", s)
	}
	if v, err := strconv.ParseFloat(src, 64); err == nil {
		return checkDuration(s, v*float64(time.Second))
	}
	var total float64
	rest := strings.NewReplacer(",", " ", " and ", " ").Replace(src)
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a number at %q", s, rest)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %q is not a number", s, rest[:i])
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		unit, ok := durationUnits[rest[:j]]
		if !ok {
			if j == 0 {
				return 0, fmt.Errorf("invalid duration %q: a unit must follow %s", s, strconv.FormatFloat(num, 'f', -1, 64))
			}
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q", s, rest[:j])
		}
		total += num * float64(unit)
		rest = rest[j:]
	}
	return checkDuration(s, total)
}

func checkDuration(s string, ns float64) (time.Duration, error) {
	if math.IsNaN(ns) || ns < 0 || ns > float64(math.MaxInt64) {
		return 0, fmt.Errorf("invalid duration %q: out of range", s)
	}
	return time.Duration(ns), nil
}
