package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxSubjectRunes keeps subjects readable in a mail client's list and far
// below RFC 5322's 998-octet line limit once encoded.
const maxSubjectRunes = 200

// maxFieldRunes bounds each field in the text body, so one huge reason
// cannot make a message that chat services reject.
const maxFieldRunes = 2000

// Subject is the one-line summary of e used as the e-mail subject and the
// chat headline: the project in brackets, then what happened. It never
// contains line breaks or other control characters, whatever the event
// holds, so it is safe in a mail header.
func Subject(e Event) string {
	s := headline(e)
	if p := oneLine(e.Project); p != "" {
		s = "[" + p + "] " + s
	}
	return truncate(s, maxSubjectRunes)
}

// headline says what happened, without the project.
func headline(e Event) string {
	ref, env, app := oneLine(e.Ref), oneLine(e.Env), oneLine(e.App)
	if app == "" {
		app = "app"
	}
	switch e.Kind {
	case KindPipelineFailed:
		return "Pipeline" + pipelineRef(e.PipelineID) + " failed" + on(ref)
	case KindPipelineFixed:
		return "Pipeline" + pipelineRef(e.PipelineID) + " fixed" + on(ref)
	case KindRolloutPaused:
		return "Rollout of " + app + revision(e) + " paused" + in(env)
	case KindRolloutPromoted:
		return "Rollout of " + app + revision(e) + " promoted" + in(env)
	case KindRolloutAborted:
		return "Rollout of " + app + revision(e) + " aborted" + in(env)
	case KindRollback:
		s := app + " rolled back" + in(env)
		if r := revision(e); r != "" {
			s += " to" + r
		}
		return s
	}
	return "Event " + fmt.Sprintf("%q", oneLine(e.Kind))
}

func pipelineRef(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf(" #%d", id)
}

func on(ref string) string {
	if ref == "" {
		return ""
	}
	return " on " + ref
}

func in(env string) string {
	if env == "" {
		return ""
	}
	return " in " + env
}

// revision names a revision as the CLI does ("r7"), with its version.
func revision(e Event) string {
	var s string
	if e.Revision != 0 {
		s = fmt.Sprintf(" r%d", e.Revision)
	}
	if v := oneLine(e.Version); v != "" {
		if s == "" {
			s = " " + v
		} else {
			s += " (" + v + ")"
		}
	}
	return s
}

// Text is the plain-text description of e: the headline, then one line
// per known field, then the reason (which may span lines). It has no
// carriage returns or control characters other than newlines and ends
// with a newline.
func Text(e Event) string {
	var b strings.Builder
	b.WriteString(headline(e))
	b.WriteString(".\n\n")
	field := func(name, value string) {
		if value == "" {
			return
		}
		fmt.Fprintf(&b, "%-13s%s\n", name+":", truncate(value, maxFieldRunes))
	}
	field("Project", oneLine(e.Project))
	field("Ref", oneLine(e.Ref))
	if e.PipelineID != 0 {
		field("Pipeline", fmt.Sprintf("#%d", e.PipelineID))
	}
	field("Environment", oneLine(e.Env))
	field("App", oneLine(e.App))
	if e.Revision != 0 {
		field("Revision", fmt.Sprintf("r%d", e.Revision))
	}
	field("Version", oneLine(e.Version))
	if !e.Time.IsZero() {
		field("Time", e.Time.UTC().Format(time.RFC3339))
	}
	field("Details", oneLine(e.URL))
	if r := multiLine(e.Reason); r != "" {
		r = truncate(r, maxFieldRunes)
		field("Reason", strings.ReplaceAll(r, "\n", "\n"+strings.Repeat(" ", 13)))
	}
	return b.String()
}

// oneLine makes s safe for a single line (a mail header, a chat title):
// invalid UTF-8 and every control character become spaces, runs of
// spaces collapse, and the ends are trimmed.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, " ")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}), " ")
}

// multiLine keeps line structure but nothing else a terminal or mail
// client could misread: CR LF and lone CR become LF, other control
// characters become spaces, trailing blank lines go.
func multiLine(s string) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r':
			return '\n'
		case r == '\t':
			return ' '
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n ")
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " \n") + "…"
}
