// Package report parses the reports a CI job leaves behind — the coverage
// figure in its log, JUnit XML, dotenv and metrics artifacts — the way GitLab
// reads them, so a pipeline that works on GitLab gives the same numbers and
// variables under Gantry.
//
// Every parser reads untrusted bytes written by the job's own scripts: none of
// them panics, all of them bound the memory they keep, and their errors name
// the offending line where a line exists so a user can fix the file.
package report

import "fmt"

// ParseError reports a malformed report file. It is a distinct type so that
// callers (the CLI, the server UI) can point at the line without parsing the
// message text.
type ParseError struct {
	// Report names the report kind: "junit", "dotenv" or "metrics".
	Report string
	// Line is 1-based; 0 means the problem concerns the file as a whole.
	Line int
	// Msg says what is wrong, in words meant for the job's author.
	Msg string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.Report, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Report, e.Msg)
}

func parseErrorf(report string, line int, format string, args ...any) *ParseError {
	return &ParseError{Report: report, Line: line, Msg: fmt.Sprintf(format, args...)}
}
