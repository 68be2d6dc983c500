package report

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// attachmentTag is the marker GitLab looks for in <system-out> to show a
// screenshot next to a failed test.
var attachmentTag = regexp.MustCompile(`\[\[ATTACHMENT\|(.+?)\]\]`)

// ParseJUnit reads one JUnit XML report and summarises it.
//
// The root element must be <testsuites> or <testsuite>; suites may nest
// (PHPUnit does), and <testcase> elements directly inside any suite element
// are counted. Elements GitLab ignores (<properties>, suite-level output,
// unknown tags) are skipped without being held in memory.
//
// The file is read as a token stream, so memory grows with the number of
// failed tests kept (bounded by MaxFailedTests) and not with the file size.
// Like GitLab, the parser does not expand DTD entities: a document that
// declares its own entities and uses them fails with a syntax error instead of
// growing ("billion laughs"), and external entities are never fetched.
// Malformed XML is reported as a *ParseError carrying the line.
func ParseJUnit(r io.Reader) (*TestSummary, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = xmlCharsetReader
	p := &junitParser{d: d, sum: &TestSummary{}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.sum, nil
}

// ParseJUnitFiles parses each file and merges the results, for a job whose
// `reports:junit` globs matched several files. It stops at the first file
// that cannot be read or parsed and names it in the error, since GitLab
// likewise marks the whole report as failed to parse.
func ParseJUnitFiles(ctx context.Context, paths []string) (*TestSummary, error) {
	sums := make([]*TestSummary, 0, len(paths))
	for _, path := range paths {
		s, err := parseJUnitFile(ctx, path)
		if err != nil {
			return nil, err
		}
		sums = append(sums, s)
	}
	return MergeJUnit(sums...), nil
}

func parseJUnitFile(ctx context.Context, path string) (*TestSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("parse junit report %q: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("parse junit report: %w", err)
	}
	defer f.Close()
	s, err := ParseJUnit(ctxReader{ctx: ctx, r: f})
	if err != nil {
		return nil, fmt.Errorf("parse junit report %q: %w", path, err)
	}
	return s, nil
}

// ctxReader stops a long parse when the job or server is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type junitParser struct {
	d   *xml.Decoder
	sum *TestSummary
}

func (p *junitParser) run() error {
	var suites []string // names of the open suite elements, innermost last
	rootDone := false
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			if !rootDone {
				return parseErrorf("junit", 0, "no <testsuites> or <testsuite> element")
			}
			return nil
		}
		if err != nil {
			return p.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(suites) == 0 {
				if rootDone {
					return p.errorf("more than one root element (<%s>)", name)
				}
				if name != "testsuites" && name != "testsuite" {
					return p.errorf("root element is <%s>, want <testsuites> or <testsuite>", name)
				}
			}
			switch name {
			case "testsuites", "testsuite":
				suites = append(suites, attr(t, "name"))
			case "testcase":
				if err := p.testcase(t, suites[len(suites)-1]); err != nil {
					return err
				}
			default:
				if err := p.d.Skip(); err != nil {
					return p.wrap(err)
				}
			}
		case xml.EndElement:
			// Only suite elements are left open here: everything else was
			// consumed whole, and the decoder checks that tags balance.
			suites = suites[:len(suites)-1]
			if len(suites) == 0 {
				rootDone = true
			}
		case xml.CharData:
			if len(suites) == 0 && strings.TrimSpace(strings.TrimPrefix(string(t), "\ufeff")) != "" {
				return p.errorf("text outside the root element")
			}
		}
	}
}

// testcase consumes one <testcase> element and adds it to the summary.
func (p *junitParser) testcase(start xml.StartElement, suite string) error {
	tc := FailedTest{
		Suite: suite,
		Class: attr(start, "classname"),
		Name:  attr(start, "name"),
		File:  attr(start, "file"),
		Time:  caseDuration(attr(start, "time")),
	}
	status := StatusPassed
	var output, sysout []byte
	for {
		tok, err := p.d.Token()
		if err != nil {
			return p.wrap(unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "failure", "error", "skipped":
				s := resultStatus(t.Name.Local)
				if rank(s) <= rank(status) {
					if err := p.d.Skip(); err != nil {
						return p.wrap(err)
					}
					continue
				}
				status = s
				tc.Message, tc.Type = attr(t, "message"), attr(t, "type")
				if output, err = p.text(output[:0]); err != nil {
					return err
				}
			case "system-out":
				if sysout, err = p.text(sysout); err != nil {
					return err
				}
			default:
				if err := p.d.Skip(); err != nil {
					return p.wrap(err)
				}
			}
		case xml.EndElement:
			p.count(tc, status, output, sysout)
			return nil
		}
	}
}

func (p *junitParser) count(tc FailedTest, status Status, output, sysout []byte) {
	s := p.sum
	s.Tests++
	s.Time = addDuration(s.Time, tc.Time)
	switch status {
	case StatusSkipped:
		s.Skipped++
		return
	case StatusPassed:
		return
	case StatusFailed:
		s.Failures++
	case StatusError:
		s.Errors++
	}
	tc.Status = status
	tc.Output = head(string(output))
	tc.SystemOut = head(string(sysout))
	if m := attachmentTag.FindSubmatch(sysout); m != nil {
		tc.Attachment = strings.TrimSpace(string(m[1]))
	}
	s.addFailed(tc)
}

// text appends the character data of the element just opened, up to
// maxCollectBytes in total, and consumes the element.
func (p *junitParser) text(buf []byte) ([]byte, error) {
	depth := 1
	for depth > 0 {
		tok, err := p.d.Token()
		if err != nil {
			return nil, p.wrap(unexpectedEOF(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if room := maxCollectBytes - len(buf); room > 0 {
				buf = append(buf, t[:min(room, len(t))]...)
			}
		}
	}
	return buf, nil
}

func (p *junitParser) errorf(format string, args ...any) error {
	line, _ := p.d.InputPos()
	return parseErrorf("junit", line, format, args...)
}

// wrap turns decoder errors into ParseErrors; read errors from the
// underlying reader pass through so callers can tell them apart.
func (p *junitParser) wrap(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return parseErrorf("junit", se.Line, "malformed XML: %s", se.Msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if strings.HasPrefix(err.Error(), "xml: ") {
		// encoding/xml reports charset problems as plain errors.
		return p.errorf("%s", strings.TrimPrefix(err.Error(), "xml: "))
	}
	return fmt.Errorf("read junit: %w", err)
}

// unexpectedEOF makes a bare EOF inside an element read as truncation.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func resultStatus(element string) Status {
	switch element {
	case "failure":
		return StatusFailed
	case "error":
		return StatusError
	}
	return StatusSkipped
}

// rank orders outcomes the way GitLab's parser checks them.
func rank(s Status) int {
	switch s {
	case StatusFailed:
		return 3
	case StatusError:
		return 2
	case StatusSkipped:
		return 1
	}
	return 0
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// caseDuration reads a time="" attribute in seconds. Values that are not
// numbers, negative or absurdly large count as zero, as GitLab's to_f turns
// junk into 0.
func caseDuration(s string) time.Duration {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || v <= 0 || v > maxCaseSeconds {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}

// head keeps the first MaxOutputLines lines of s, at most MaxOutputBytes,
// cut on a character boundary.
func head(s string) string {
	s = strings.TrimSpace(s)
	lines := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines++
			if lines == MaxOutputLines {
				s = s[:i]
				break
			}
		}
	}
	if len(s) > MaxOutputBytes {
		cut := MaxOutputBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.TrimRight(s, " \t\r\n")
}
