package pipeline

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Calendar units as GitLab's duration parser (chronic_duration) counts them.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 365 * day
)

// units maps every unit spelling GitLab accepts to its length.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": day, "dy": day, "day": day, "days": day,
	"w": week, "wk": week, "wks": week, "week": week, "weeks": week,
	"mo": month, "mos": month, "month": month, "months": month,
	"y": year, "yr": year, "yrs": year, "year": year, "years": year,
}

// colonUnits gives the meaning of each field of "1:30" style durations,
// read from the right: seconds, minutes, hours, days, months, years.
var colonUnits = []time.Duration{time.Second, time.Minute, time.Hour, day, month, year}

// maxDuration keeps sums clear of time.Duration overflow (about 292 years).
const maxDuration = time.Duration(math.MaxInt64 / 2)

// ParseDuration reads a GitLab duration as timeout, start_in, expire_in
// and auto_stop_in take it: a bare number of seconds ("42"), "hh:mm:ss"
// style ("1:30"), or number-unit pairs in any spelling GitLab lists
// ("3 mins 4 sec", "2 hrs 20 min", "2h20min", "6 mos 1 day",
// "3 weeks and 2 days"). Months count 30 days and years 365. Fractions are
// allowed ("1.5 hours"); the result is whole seconds. Unknown words are an
// error rather than silently ignored. "never" is not a duration: callers
// that accept it (expire_in, auto_stop_in) check for it first.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, fmt.Errorf("invalid duration %q: empty", s)
	}
	var d time.Duration
	var err error
	if strings.Contains(in, ":") {
		d, err = parseColon(in)
	} else {
		d, err = parseWords(in)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w", s, err)
	}
	return d.Truncate(time.Second), nil
}

func parseColon(in string) (time.Duration, error) {
	fields := strings.Split(strings.ReplaceAll(in, " ", ""), ":")
	if len(fields) > len(colonUnits) {
		return 0, errors.New("too many ':' fields")
	}
	var total time.Duration
	for i, f := range fields {
		n, err := parseNumber(f)
		if err != nil {
			return 0, err
		}
		if total, err = add(total, n, colonUnits[len(fields)-1-i]); err != nil {
			return 0, err
		}
	}
	return total, nil
}

func parseWords(in string) (time.Duration, error) {
	var total time.Duration
	var pending string // a number still waiting for its unit
	for _, tok := range tokenize(in) {
		if isNumberStart(tok[0]) {
			if pending != "" {
				return 0, fmt.Errorf("number %q has no unit", pending)
			}
			pending = tok
			continue
		}
		if tok == "and" {
			continue
		}
		unit, ok := units[tok]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q", tok)
		}
		if pending == "" {
			return 0, fmt.Errorf("unit %q has no number", tok)
		}
		n, err := parseNumber(pending)
		if err != nil {
			return 0, err
		}
		if total, err = add(total, n, unit); err != nil {
			return 0, err
		}
		pending = ""
	}
	if pending != "" {
		// A trailing bare number counts as seconds, as in "42".
		n, err := parseNumber(pending)
		if err != nil {
			return 0, err
		}
		return add(total, n, time.Second)
	}
	return total, nil
}

// tokenize splits runs of digits from runs of letters, so "2h20min" reads
// like "2 h 20 min"; spaces and commas only separate.
func tokenize(in string) []string {
	var toks []string
	start := -1
	kind := 0 // 1 number, 2 word
	flush := func(i int) {
		if start >= 0 {
			toks = append(toks, in[start:i])
		}
		start, kind = -1, 0
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		k := 0
		switch {
		case isNumberStart(c):
			k = 1
		case 'a' <= c && c <= 'z':
			k = 2
		case c == ' ' || c == ',' || c == '\t':
			flush(i)
			continue
		default:
			k = 3 // any other byte stands alone and fails as a unit
		}
		if k != kind || k == 3 {
			flush(i)
			start, kind = i, k
		}
	}
	flush(len(in))
	return toks
}

func isNumberStart(c byte) bool { return '0' <= c && c <= '9' || c == '.' }

// number is a parsed count; whole numbers stay integers so long durations
// keep exact seconds.
type number struct {
	whole    int64
	fraction float64 // used when the text had a decimal point
	isFloat  bool
}

func parseNumber(s string) (number, error) {
	if s == "" {
		return number{}, errors.New("missing number")
	}
	for i := 0; i < len(s); i++ {
		if !isNumberStart(s[i]) {
			return number{}, fmt.Errorf("bad number %q", s)
		}
	}
	if !strings.Contains(s, ".") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return number{}, fmt.Errorf("bad number %q", s)
		}
		return number{whole: n}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return number{}, fmt.Errorf("bad number %q", s)
	}
	return number{fraction: f, isFloat: true}, nil
}

func add(total time.Duration, n number, unit time.Duration) (time.Duration, error) {
	tooLong := errors.New("duration too long")
	var v time.Duration
	if n.isFloat {
		f := n.fraction * float64(unit)
		if f > float64(maxDuration) {
			return 0, tooLong
		}
		v = time.Duration(f)
	} else {
		if n.whole > int64(maxDuration/unit) {
			return 0, tooLong
		}
		v = time.Duration(n.whole) * unit
	}
	if v > maxDuration-total {
		return 0, tooLong
	}
	return total + v, nil
}
