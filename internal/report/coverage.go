package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
)

// MaxCoverageLineBytes bounds how much of one log line the coverage scanner
// keeps and searches. A job that prints megabytes without a newline
// (progress bars, minified output) must neither make the runner hold it all
// nor feed it whole to the job's own regex, whose cost can grow with the
// square of the line for some patterns; coverage summaries are short, so only
// the first MaxCoverageLineBytes of such a line are searched.
const MaxCoverageLineBytes = 64 << 10

// timestampHeader matches the header GitLab Runner writes in front of every
// line of a timestamped job log ("2024-01-02T03:04:05.000000Z 01O+").
// GitLab decides from the first line whether the log is timestamped and then
// drops timestampHeaderLen bytes from every line before applying the coverage
// regex; Gantry does the same so a regex written for the plain log works on
// either form.
var timestampHeader = regexp.MustCompile(`^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{6}Z [0-9a-f]{2}[EO][+ ]`)

const timestampHeaderLen = 32

// CompileCoverageRegex turns the value of a job's `coverage:` keyword into a
// regular expression. GitLab requires the `/regex/` form and evaluates the
// inside with RE2, which is the syntax of Go's regexp package, so a pattern
// GitLab accepts compiles here unchanged. Ruby-style trailing flags (`/x/i`)
// are rejected as GitLab rejects them; use `(?i)` inside the slashes instead.
func CompileCoverageRegex(pattern string) (*regexp.Regexp, error) {
	if len(pattern) < 2 || pattern[0] != '/' || pattern[len(pattern)-1] != '/' {
		return nil, fmt.Errorf("coverage pattern %q: must start and end with / (flags go inside, as (?i))", pattern)
	}
	inner := pattern[1 : len(pattern)-1]
	if inner == "" {
		return nil, fmt.Errorf("coverage pattern %q: empty regular expression", pattern)
	}
	re, err := regexp.Compile(inner)
	if err != nil {
		return nil, fmt.Errorf("coverage pattern %q: %w", pattern, err)
	}
	return re, nil
}

// Coverage extracts a job's coverage percentage from its whole log the way
// GitLab does for the `coverage:` keyword:
//
//   - the regex is applied to each line separately, and the last line that
//     yields a number wins (GitLab searches backwards and stops at the first);
//   - within a line, the last match is used; when the regex has capture
//     groups, the last group that took part in that match is used, otherwise
//     the whole match (GitLab's docs only say "the matched fragment", its code
//     takes the last group, and so does Gantry);
//   - the first number (`\d+(\.\d+)?`) in that fragment is the coverage, so
//     "Coverage: 081.5%" gives 81.5; a matching line with no number is
//     skipped and the search goes on to earlier lines.
//
// ok is false when no line yields a number. err is set only for an invalid
// pattern. Gantry differs from GitLab in one corner: a number too large for a
// float64 is skipped rather than stored as infinity.
func Coverage(pattern string, log []byte) (value float64, ok bool, err error) {
	s, err := NewCoverageScanner(pattern)
	if err != nil {
		return 0, false, err
	}
	// Write on a CoverageScanner never fails.
	_, _ = s.Write(log)
	value, ok = s.Result()
	return value, ok, nil
}

// CoverageScanner finds the coverage figure in a job log while the log is
// being written, so the runner never has to hold or re-read the whole log.
// Feed it chunks with Write in log order (lines may span chunks) and call
// Result at any time; it keeps only the last match and the current partial
// line. It implements io.Writer so it can sit in an io.MultiWriter next to the
// log file. A CoverageScanner is not safe for concurrent use.
type CoverageScanner struct {
	re      *regexp.Regexp
	partial []byte // the current line so far, without its newline
	started bool   // whether the first line has been seen
	stamped bool   // whether the log carries GitLab Runner timestamp headers
	value   float64
	ok      bool
}

// NewCoverageScanner compiles pattern (see CompileCoverageRegex) and returns
// a scanner with nothing seen yet.
func NewCoverageScanner(pattern string) (*CoverageScanner, error) {
	re, err := CompileCoverageRegex(pattern)
	if err != nil {
		return nil, err
	}
	return &CoverageScanner{re: re}, nil
}

// Write scans the complete lines in p and keeps the unterminated tail for the
// next call. It always consumes all of p and never returns an error.
func (s *CoverageScanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(p)
			break
		}
		if len(s.partial) == 0 {
			s.line(p[:i])
		} else {
			s.keep(p[:i])
			s.line(s.partial)
			s.partial = s.partial[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// keep appends to the partial line, dropping bytes past MaxCoverageLineBytes.
func (s *CoverageScanner) keep(p []byte) {
	if room := MaxCoverageLineBytes - len(s.partial); room < len(p) {
		p = p[:max(room, 0)]
	}
	s.partial = append(s.partial, p...)
}

// Result returns the coverage found so far, counting an unterminated last
// line as GitLab does at the end of a log. It does not consume that line, so
// writing may go on afterwards.
func (s *CoverageScanner) Result() (value float64, ok bool) {
	if len(s.partial) > 0 {
		if v, found := s.extract(s.partial, !s.started); found {
			return v, true
		}
	}
	return s.value, s.ok
}

// line handles one complete line (without its newline).
func (s *CoverageScanner) line(l []byte) {
	first := !s.started
	s.started = true
	if first {
		s.stamped = timestampHeader.Match(l)
	}
	if v, found := s.extract(l, false); found {
		s.value, s.ok = v, true
	}
}

// extract applies GitLab's per-line rule to l. probeFirst says l is the
// first line of the log and has not been checked for a timestamp header yet.
func (s *CoverageScanner) extract(l []byte, probeFirst bool) (float64, bool) {
	if len(l) > MaxCoverageLineBytes {
		l = l[:MaxCoverageLineBytes]
	}
	stamped := s.stamped
	if probeFirst {
		stamped = timestampHeader.Match(l)
	}
	l = bytes.TrimSuffix(l, []byte{'\r'}) // GitLab chomps "\r\n" as well as "\n"
	if stamped {
		l = l[min(timestampHeaderLen, len(l)):]
	}
	if !s.re.Match(l) {
		return 0, false
	}
	frag, found := lastFragment(s.re, l)
	if !found {
		return 0, false
	}
	return firstNumber(frag)
}

// lastFragment returns the last value GitLab's scan would yield for l: the
// last participating capture group of all matches or, without groups, the
// last whole match.
func lastFragment(re *regexp.Regexp, l []byte) ([]byte, bool) {
	var frag []byte
	found := false
	groups := re.NumSubexp()
	for _, m := range re.FindAllSubmatchIndex(l, -1) {
		if groups == 0 {
			frag, found = l[m[0]:m[1]], true
			continue
		}
		for g := 1; g <= groups; g++ {
			if m[2*g] >= 0 {
				frag, found = l[m[2*g]:m[2*g+1]], true
			}
		}
	}
	return frag, found
}

// firstNumber finds the leftmost `\d+(\.\d+)?` in frag and parses it.
func firstNumber(frag []byte) (float64, bool) {
	start := bytes.IndexFunc(frag, isASCIIDigit)
	if start < 0 {
		return 0, false
	}
	end := start
	for end < len(frag) && isASCIIDigitByte(frag[end]) {
		end++
	}
	if end+1 < len(frag) && frag[end] == '.' && isASCIIDigitByte(frag[end+1]) {
		end += 2
		for end < len(frag) && isASCIIDigitByte(frag[end]) {
			end++
		}
	}
	// Only digits and one dot reach ParseFloat, so its one possible error is
	// a value out of float64 range; such a line counts as having no number.
	v, err := strconv.ParseFloat(string(frag[start:end]), 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

func isASCIIDigitByte(b byte) bool { return b >= '0' && b <= '9' }
