package shell

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/executor"
)

// Section names, as they appear in the section markers.
const (
	sectionBefore = "before_script"
	sectionScript = "script"
	sectionAfter  = "after_script"
)

// ANSI sequences GitLab Runner uses in job logs.
const (
	ansiYellow    = "\x1b[0;33m"
	ansiReset     = "\x1b[0;m"
	ansiClearLine = "\x1b[0K"
)

// beforeEndNeedle is the tail of the before_script section_end line that
// the main script prints when before_script has succeeded.
const beforeEndNeedle = ":" + sectionBefore + "\r" + ansiClearLine + "\n"

// multiLineNote marks an echoed command that had more lines than shown,
// as GitLab Runner does.
const multiLineNote = " # collapsed multi-line command"

func sectionHeader(name string) string {
	return "Executing " + name
}

// sectionStart writes a section_start marker from Go, so that it is there
// even when bash never starts.
func (e *Executor) sectionStart(w io.Writer, name, header string) {
	if !e.opts.Sections {
		return
	}
	fmt.Fprintf(w, "%ssection_start:%d:%s\r%s%s\n", ansiClearLine, time.Now().Unix(), name, ansiClearLine, header)
}

// sectionEnd writes a section_end marker from Go, after the output has been
// drained, so a failed, killed or timed-out script still closes its section.
func (e *Executor) sectionEnd(w io.Writer, name string) {
	if !e.opts.Sections {
		return
	}
	fmt.Fprintf(w, "%ssection_end:%d:%s\r%s\n", ansiClearLine, time.Now().Unix(), name, ansiClearLine)
}

// mainScript is what bash reads on stdin for before_script+script.
func (e *Executor) mainScript(job *executor.Job) []byte {
	var b strings.Builder
	prologue(&b, job.Dir)
	e.commands(&b, job.BeforeScript)
	if len(job.BeforeScript) > 0 && e.opts.Sections {
		// bash's own printf stamps the time (%(...)T), avoiding a fork of date.
		b.WriteString(`builtin printf '\e[0Ksection_end:%(%s)T:` + sectionBefore + `\r\e[0K\n` +
			`\e[0Ksection_start:%(%s)T:` + sectionScript + `\r\e[0K%s\n' -1 -1 ` +
			quote(sectionHeader(sectionScript)) + "\n")
	}
	e.commands(&b, job.Script)
	return wrap(b.String())
}

// afterScript is what bash reads on stdin for after_script.
func (e *Executor) afterScript(job *executor.Job) []byte {
	var b strings.Builder
	prologue(&b, job.Dir)
	e.commands(&b, job.AfterScript)
	return wrap(b.String())
}

// prologue gives the script GitLab's fail-fast semantics and moves into the
// job directory. The cd is there besides exec.Cmd.Dir because Job.Command
// may enter a mount namespace after the chdir, where the workspace is
// mounted over the path.
func prologue(b *strings.Builder, dir string) {
	b.WriteString("set -eo pipefail\nset +o noclobber\n")
	if dir != "" {
		b.WriteString("cd -- " + quote(dir) + "\n")
	}
}

// commands appends each command preceded by its echo line.
func (e *Executor) commands(b *strings.Builder, cmds []string) {
	format := `'$ %s\n'`
	if e.opts.Color {
		format = `'\e[32;1m$ %s\e[0;m\n'`
	}
	for _, c := range cmds {
		b.WriteString("builtin printf " + format + " " + quote(displayCommand(c)) + "\n")
		b.WriteString(stripNUL(c) + "\n")
	}
}

// wrap makes the whole body one eval whose stdin is /dev/null. bash reads
// the script from its own stdin, so commands must not inherit that stdin
// (a `cat` would swallow the rest of the script); eval still parses and
// runs one command at a time, keeping fail-fast and late syntax errors.
func wrap(body string) []byte {
	return []byte("eval " + quote(body) + " </dev/null\n")
}

// displayCommand is how a command is echoed: multi-line commands (YAML
// block scalars) show their first line and a note, like GitLab.
func displayCommand(c string) string {
	c = strings.TrimRight(c, " \t\r\n")
	if first, _, multi := strings.Cut(c, "\n"); multi {
		return strings.TrimRight(first, " \t\r") + multiLineNote
	}
	return c
}

// quote makes s one single-quoted bash word. NUL bytes cannot pass through
// bash at all and are dropped.
func quote(s string) string {
	return "'" + strings.ReplaceAll(stripNUL(s), "'", `'\''`) + "'"
}

func stripNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// needleWatch reports whether a byte stream, fed in arbitrary chunks,
// contains needle.
type needleWatch struct {
	needle []byte
	tail   []byte // last len(needle)-1 bytes seen
	buf    []byte
	found  bool
}

func newNeedleWatch(needle string) *needleWatch {
	return &needleWatch{needle: []byte(needle)}
}

func (w *needleWatch) feed(p []byte) {
	if w.found || len(w.needle) == 0 {
		w.found = true
		return
	}
	if bytes.Contains(p, w.needle) {
		w.found = true
		return
	}
	k := len(w.needle) - 1
	// Only a match straddling the previous chunk is left to check.
	w.buf = append(append(w.buf[:0], w.tail...), p[:min(k, len(p))]...)
	if bytes.Contains(w.buf, w.needle) {
		w.found = true
		return
	}
	w.buf = append(append(w.buf[:0], w.tail...), p[max(0, len(p)-k):]...)
	w.tail = append(w.tail[:0], w.buf[max(0, len(w.buf)-k):]...)
}
