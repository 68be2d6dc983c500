package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMetricsLineBytes bounds one line of a metrics report; a longer line is
// skipped with an error rather than buffered without end.
const MaxMetricsLineBytes = 64 << 10

// maxMetricsErrors bounds how many bad lines one error lists.
const maxMetricsErrors = 20

// Label is one name="value" pair of a metric sample.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Metric is one sample line of an `artifacts:reports:metrics` file.
type Metric struct {
	// Name is the metric name; for a line whose name and labels are not
	// valid OpenMetrics it is the first word of the line, as GitLab takes it.
	Name   string  `json:"name"`
	Labels []Label `json:"labels,omitempty"`
	// Value is the value as written: GitLab stores and compares metric
	// values as strings, so "1.0" and "1" differ and "v1.2" is allowed.
	Value string `json:"value"`
	// Timestamp is the optional word after the value, empty if absent.
	Timestamp string `json:"timestamp,omitempty"`
	Line      int    `json:"line"`
}

// Float returns the value as a number, if it is one (NaN and ±Inf count).
func (m Metric) Float() (float64, bool) {
	v, err := parseMetricNumber(m.Value)
	return v, err == nil
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

// ParseMetrics reads a metrics report, which GitLab documents as the
// OpenMetrics text format, and returns its samples in file order.
//
// GitLab itself reads the file loosely and never rejects it: each line that
// is not blank is `name value ...` once everything from a "#" on is cut off;
// the value is kept as a string, further words are ignored, and a line
// without a value is skipped. ParseMetrics returns exactly the metrics GitLab
// would show (keeping labels apart from the name where they are well formed),
// so a pipeline's metrics look the same under Gantry.
//
// On top of that it checks every line against the OpenMetrics syntax — name
// and label syntax, numeric value and timestamp, `# TYPE`/`# HELP`/`# UNIT`
// lines, nothing after `# EOF` — and, if any line fails or is skipped,
// returns the metrics together with an error that joins one *ParseError per
// bad line (up to 20). A caller that wants GitLab's leniency shows the error
// as a warning; a strict caller fails on it. Blank lines, a missing `# EOF`
// and repeated series are accepted; GitLab keeps only the last value per
// name, Gantry keeps every line.
func ParseMetrics(r io.Reader) ([]Metric, error) {
	br := bufio.NewReaderSize(r, 4096)
	var (
		out   []Metric
		diags []error
		extra int // bad lines beyond maxMetricsErrors
		eof   bool
	)
	report := func(n int, err error) {
		if len(diags) < maxMetricsErrors {
			diags = append(diags, &ParseError{Report: "metrics", Line: n, Msg: err.Error()})
		} else {
			extra++
		}
	}
	for n := 1; ; n++ {
		line, tooLong, err := readMetricsLine(br)
		if err != nil && err != io.EOF {
			return out, fmt.Errorf("read metrics: %w", err)
		}
		if err == io.EOF && line == "" && !tooLong {
			break
		}
		switch {
		case tooLong:
			report(n, fmt.Errorf("line longer than %d bytes; skipped", MaxMetricsLineBytes))
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(strings.TrimLeft(line, " \t"), "#"):
			isEOF, cerr := metricsComment(strings.TrimLeft(line, " \t"))
			if cerr != nil {
				report(n, cerr)
			} else if eof && !isEOF {
				report(n, errors.New("content after # EOF"))
			}
			eof = eof || isEOF
		default:
			if eof {
				report(n, errors.New("content after # EOF"))
			}
			m, keep, lerr := parseMetricLine(line)
			if lerr != nil {
				report(n, lerr)
			}
			if keep {
				m.Line = n
				out = append(out, m)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if extra > 0 {
		diags = append(diags, parseErrorf("metrics", 0, "%d more bad lines not listed", extra))
	}
	return out, errors.Join(diags...)
}

// readMetricsLine returns the next line without its line ending. A line
// longer than MaxMetricsLineBytes is consumed and reported as too long.
func readMetricsLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxMetricsLineBytes+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		if !tooLong && len(line) > MaxMetricsLineBytes {
			tooLong, line = true, ""
		}
		return line, tooLong, err
	}
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

// parseMetricLine reads `name{labels} value [timestamp] [# exemplar]`.
// keep reports whether GitLab would record the line; err says why it is not
// valid OpenMetrics.
func parseMetricLine(line string) (m Metric, keep bool, err error) {
	var diag error
	note := func(e error) {
		if diag == nil {
			diag = e
		}
	}
	if !utf8.ValidString(line) {
		note(errors.New("not valid UTF-8"))
	}
	line = strings.TrimLeft(line, " \t\r")
	rest, herr := parseMetricHead(line, &m)
	if herr != nil {
		// Fall back to GitLab's reading: the first word is the name.
		note(herr)
		m = Metric{}
		m.Name, rest = nextField(cutComment(line))
	}
	rest = cutComment(rest)
	value, rest := nextField(rest)
	if value == "" {
		note(fmt.Errorf("%s: missing value", m.Key()))
		return m, false, diag
	}
	m.Value = value
	if _, err := parseMetricNumber(value); err != nil {
		note(fmt.Errorf("%s: value %q is not a number", m.Key(), value))
	}
	if ts, rest := nextField(rest); ts != "" {
		m.Timestamp = ts
		if _, err := parseMetricNumber(ts); err != nil {
			note(fmt.Errorf("%s: timestamp %q is not a number", m.Key(), ts))
		}
		if more, _ := nextField(rest); more != "" {
			note(fmt.Errorf("%s: unexpected %q after the timestamp", m.Key(), more))
		}
	}
	return m, true, diag
}

// parseMetricHead reads the name and labels into m and returns the rest of
// the line, which starts with a blank or is empty.
func parseMetricHead(line string, m *Metric) (string, error) {
	i := 0
	for i < len(line) && isNameByte(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return "", fmt.Errorf("want a metric name, found %q", firstRune(line))
	}
	m.Name = line[:i]
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return "", fmt.Errorf("%s: %w", m.Name, err)
		}
		m.Labels, rest = labels, after
	}
	if rest != "" && !isBlank(rest[0]) {
		if m.Labels == nil && !strings.HasPrefix(rest, "{") {
			word, _ := nextField(line)
			return "", fmt.Errorf("invalid character %q in metric name %q", firstRune(rest), word)
		}
		return "", fmt.Errorf("unexpected %q after %s", firstRune(rest), m.Key())
	}
	return rest, nil
}

// cutComment drops everything from a "#" on, as GitLab does; an OpenMetrics
// exemplar ("# {trace_id=...} 1") goes with it.
func cutComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// parseLabels reads label pairs after "{" up to and including "}".
func parseLabels(s string) ([]Label, string, error) {
	var labels []Label
	var seen map[string]bool
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
		var dup bool
		if seen != nil {
			dup = seen[name]
		} else {
			dup = slices.ContainsFunc(labels, func(l Label) bool { return l.Name == name })
		}
		if dup {
			return nil, "", fmt.Errorf("label %s given twice", name)
		}
		labels = append(labels, Label{Name: name, Value: value})
		// A map only pays off for long label sets; it keeps a hostile line
		// with thousands of labels linear.
		switch {
		case seen != nil:
			seen[name] = true
		case len(labels) > 16:
			seen = make(map[string]bool, 2*len(labels))
			for _, l := range labels {
				seen[l.Name] = true
			}
		}
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

// isBlank reports whether c separates the words of a sample line. A stray
// "\r" counts, so that CRLF files and odd spacing read the same way.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// nextField returns the next blank-separated field and what follows it.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t\r")
	i := strings.IndexAny(s, " \t\r")
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
