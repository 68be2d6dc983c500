package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMetricsLineBytes bounds one line of a metrics report; a longer line is
// an error rather than a reason to buffer without end.
const MaxMetricsLineBytes = 64 << 10

// Label is one name="value" pair of a metric sample.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Metric is one sample line of an `artifacts:reports:metrics` file.
type Metric struct {
	Name   string  `json:"name"`
	Labels []Label `json:"labels,omitempty"`
	// Value is the value as written: GitLab stores and compares metric
	// values as strings, so "1.0" and "1" are different values to it.
	Value string `json:"value"`
	// Number is Value parsed (NaN and ±Inf included).
	Number float64 `json:"-"`
	// Timestamp is the optional timestamp as written, empty if absent.
	Timestamp string `json:"timestamp,omitempty"`
	Line      int    `json:"line"`
}

// Key identifies the series: the name plus labels in written order, in
// exposition syntax. Two reports' metrics with the same key are the same
// series, which is how a merge request compares branches.
func (m Metric) Key() string {
	if len(m.Labels) == 0 {
		return m.Name
	}
	var b strings.Builder
	b.WriteString(m.Name)
	b.WriteByte('{')
	for i, l := range m.Labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// String formats m as an exposition line that ParseMetrics reads back to
// the same metric.
func (m Metric) String() string {
	s := m.Key() + " " + m.Value
	if m.Timestamp != "" {
		s += " " + m.Timestamp
	}
	return s
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabelValue(v string) string { return labelEscaper.Replace(v) }

// ParseMetrics reads a metrics report in the OpenMetrics / Prometheus text
// format, which GitLab documents for `artifacts:reports:metrics`, and returns
// its samples in file order.
//
// Accepted per line: `name value`, `name{label="v",...} value`, an optional
// timestamp after the value and an optional exemplar (`# {...} v`) after
// that, which is ignored. `# HELP`, `# TYPE` and `# UNIT` lines are checked
// for a valid metric name; other comments and blank lines are skipped. A
// `# EOF` line ends the report and nothing but blank lines may follow it.
// Gantry is more lenient than strict OpenMetrics in accepting blank lines,
// missing `# EOF` and Prometheus-style values, and it keeps every sample of a
// repeated series in order, where GitLab keeps one value per metric name.
// Errors are *ParseError values naming the line.
func ParseMetrics(r io.Reader) ([]Metric, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxMetricsLineBytes)
	var out []Metric
	n := 0
	eof := false
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case strings.TrimSpace(trimmed) == "":
			continue
		case eof:
			return nil, parseErrorf("metrics", n, "content after # EOF")
		case !utf8.ValidString(line):
			return nil, parseErrorf("metrics", n, "not valid UTF-8")
		case strings.HasPrefix(trimmed, "#"):
			var err error
			if eof, err = metricsComment(trimmed); err != nil {
				return nil, &ParseError{Report: "metrics", Line: n, Msg: err.Error()}
			}
			continue
		}
		m, err := parseSample(trimmed)
		if err != nil {
			return nil, &ParseError{Report: "metrics", Line: n, Msg: err.Error()}
		}
		m.Line = n
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, parseErrorf("metrics", n+1, "line longer than %d bytes", MaxMetricsLineBytes)
		}
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

var metricTypes = map[string]bool{
	"counter": true, "gauge": true, "histogram": true, "gaugehistogram": true,
	"summary": true, "info": true, "stateset": true, "unknown": true, "untyped": true,
}

// metricsComment checks a line starting with "#" and reports whether it is
// the end marker.
func metricsComment(line string) (eof bool, err error) {
	if strings.TrimSpace(line) == "# EOF" {
		return true, nil
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#"))
	if len(fields) == 0 {
		return false, nil
	}
	switch kw := fields[0]; kw {
	case "HELP", "TYPE", "UNIT":
		if len(fields) < 2 || !validMetricName(fields[1]) {
			return false, fmt.Errorf("# %s needs a valid metric name", kw)
		}
		if kw == "TYPE" && (len(fields) != 3 || !metricTypes[strings.ToLower(fields[2])]) {
			return false, fmt.Errorf("# TYPE %s: want one of counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown", fields[1])
		}
	}
	return false, nil
}

// parseSample reads `name{labels} value [timestamp] [# exemplar]`.
func parseSample(line string) (Metric, error) {
	var m Metric
	i := 0
	for i < len(line) && isNameByte(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return m, fmt.Errorf("want a metric name, found %q", firstRune(line))
	}
	m.Name = line[:i]
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return m, fmt.Errorf("%s: %w", m.Name, err)
		}
		m.Labels, rest = labels, after
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return m, fmt.Errorf("unexpected %q after %s", firstRune(rest), m.Key())
	}
	value, rest := nextField(rest)
	if value == "" {
		return m, fmt.Errorf("%s: missing value", m.Name)
	}
	num, err := parseMetricNumber(value)
	if err != nil {
		return m, fmt.Errorf("%s: value %q is not a number", m.Name, value)
	}
	m.Value, m.Number = value, num
	ts, rest := nextField(rest)
	if ts != "" && !strings.HasPrefix(ts, "#") {
		if _, err := parseMetricNumber(ts); err != nil {
			return m, fmt.Errorf("%s: timestamp %q is not a number", m.Name, ts)
		}
		m.Timestamp = ts
		ts, _ = nextField(rest)
	}
	if ts != "" && !strings.HasPrefix(ts, "#") {
		return m, fmt.Errorf("%s: unexpected %q after the value", m.Name, ts)
	}
	return m, nil
}

// parseLabels reads label pairs after "{" up to and including "}".
func parseLabels(s string) ([]Label, string, error) {
	var labels []Label
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		i := 0
		for i < len(s) && isLabelByte(s[i], i == 0) {
			i++
		}
		if i == 0 {
			if s == "" {
				return nil, "", fmt.Errorf("unterminated label set")
			}
			return nil, "", fmt.Errorf("want a label name, found %q", firstRune(s))
		}
		name := s[:i]
		s = strings.TrimLeft(s[i:], " \t")
		if !strings.HasPrefix(s, "=") {
			return nil, "", fmt.Errorf("label %s: want =", name)
		}
		s = strings.TrimLeft(s[1:], " \t")
		if !strings.HasPrefix(s, `"`) {
			return nil, "", fmt.Errorf("label %s: value must be in double quotes", name)
		}
		value, after, err := unquoteLabelValue(s[1:])
		if err != nil {
			return nil, "", fmt.Errorf("label %s: %w", name, err)
		}
		for _, l := range labels {
			if l.Name == name {
				return nil, "", fmt.Errorf("label %s given twice", name)
			}
		}
		labels = append(labels, Label{Name: name, Value: value})
		s = strings.TrimLeft(after, " \t")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
		default:
			return nil, "", fmt.Errorf("label %s: want , or } after the value", name)
		}
	}
}

// unquoteLabelValue reads up to the closing quote, resolving the three
// escapes the format defines.
func unquoteLabelValue(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("unterminated value")
			}
			i++
			switch s[i] {
			case '\\':
				b.WriteByte('\\')
			case '"':
				b.WriteByte('"')
			case 'n':
				b.WriteByte('\n')
			default:
				return "", "", fmt.Errorf(`invalid escape \%c (want \\, \" or \n)`, s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated value")
}

// parseMetricNumber accepts decimal floats, NaN and ±Inf; Go-only syntax
// (hex floats, digit separators) is refused, since no exporter writes it.
func parseMetricNumber(s string) (float64, error) {
	if strings.ContainsAny(s, "_xXpP") {
		return 0, fmt.Errorf("not a number")
	}
	return strconv.ParseFloat(s, 64)
}

// nextField returns the next blank-separated field and what follows it.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func validMetricName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte, first bool) bool {
	return c == ':' || isLabelByte(c, first)
}

func isLabelByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

func firstRune(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		if s == "" {
			return ""
		}
		return s[:1]
	}
	return s[:size]
}
