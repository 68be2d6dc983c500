package ui

import (
	"bytes"
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A job log as HTML: lines are text ending in a newline (the log box is
// white-space: pre-wrap; an element per line would make a 100,000-line
// log 100,000 elements), SGR colours are classes (the page's
// Content-Security-Policy forbids inline styles), GitLab's collapsible
// sections are <details>. static/log.js renders live logs into the same
// structure, so the stylesheet serves both.

// sectionRE matches GitLab's section markers at the start of a line:
// "\e[0Ksection_start:1700000000:name[collapsed=true]\r\e[0KHeader".
var sectionRE = regexp.MustCompile(`^(?:\x1b\[0K)?section_(start|end):(\d+):([A-Za-z0-9_.\-]+)(\[[^\]\r]*\])?\r(?:\x1b\[0K)?`)

// sgr is the graphic state of the terminal.
type sgr struct {
	fg, bg                int // -1 default, else 0-15
	bold, dim, ital, undl bool
}

var plain = sgr{fg: -1, bg: -1}

func (s sgr) classes() string {
	var c []string
	if s.fg >= 0 {
		c = append(c, "fg"+strconv.Itoa(s.fg))
	}
	if s.bg >= 0 {
		c = append(c, "bg"+strconv.Itoa(s.bg))
	}
	if s.bold {
		c = append(c, "b")
	}
	if s.dim {
		c = append(c, "d")
	}
	if s.ital {
		c = append(c, "i")
	}
	if s.undl {
		c = append(c, "u")
	}
	return strings.Join(c, " ")
}

// apply changes s by the parameters of one SGR sequence.
func (s *sgr) apply(params string) {
	if params == "" {
		*s = plain
		return
	}
	ps := strings.Split(strings.ReplaceAll(params, ":", ";"), ";")
	for i := 0; i < len(ps); i++ {
		n, err := strconv.Atoi(ps[i])
		if err != nil {
			n = 0
		}
		switch {
		case n == 0:
			*s = plain
		case n == 1:
			s.bold = true
		case n == 2:
			s.dim = true
		case n == 3:
			s.ital = true
		case n == 4:
			s.undl = true
		case n == 22:
			s.bold, s.dim = false, false
		case n == 23:
			s.ital = false
		case n == 24:
			s.undl = false
		case n >= 30 && n <= 37:
			s.fg = n - 30
		case n >= 90 && n <= 97:
			s.fg = n - 90 + 8
		case n == 39:
			s.fg = -1
		case n >= 40 && n <= 47:
			s.bg = n - 40
		case n >= 100 && n <= 107:
			s.bg = n - 100 + 8
		case n == 49:
			s.bg = -1
		case n == 38 || n == 48:
			c, used := extendedColor(ps[i+1:])
			i += used
			if n == 38 {
				s.fg = c
			} else {
				s.bg = c
			}
		}
	}
}

// extendedColor reads "5;N" or "2;R;G;B" and maps it to the nearest of
// the 16 classes; it returns how many parameters it used.
func extendedColor(ps []string) (int, int) {
	num := func(i int) int {
		if i >= len(ps) {
			return 0
		}
		n, _ := strconv.Atoi(ps[i])
		return min(max(n, 0), 255)
	}
	if len(ps) == 0 {
		return -1, 0
	}
	switch ps[0] {
	case "5":
		n := num(1)
		switch {
		case n < 16:
			return n, 2
		case n >= 232:
			g := (n - 232) * 255 / 23
			return nearest16(g, g, g), 2
		}
		n -= 16
		level := func(v int) int { return []int{0, 95, 135, 175, 215, 255}[v] }
		return nearest16(level(n/36), level(n/6%6), level(n%6)), 2
	case "2":
		return nearest16(num(1), num(2), num(3)), 4
	}
	return -1, 1
}

// palette is xterm's 16 colours, for mapping 256 and true colours.
var palette = [16][3]int{
	{0, 0, 0}, {205, 0, 0}, {0, 205, 0}, {205, 205, 0}, {0, 0, 238}, {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
	{127, 127, 127}, {255, 0, 0}, {0, 255, 0}, {255, 255, 0}, {92, 92, 255}, {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
}

func nearest16(r, g, b int) int {
	best, bestD := 0, 1<<30
	for i, p := range palette {
		d := (p[0]-r)*(p[0]-r) + (p[1]-g)*(p[1]-g) + (p[2]-b)*(p[2]-b)
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// logHTML renders a whole log. Section durations come from a first pass
// pairing the markers, since the header is written before the end is
// read.
func logHTML(data []byte) template.HTML {
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	durations := sectionDurations(lines)
	var b strings.Builder
	b.Grow(len(text) * 2)
	st := plain
	type open struct{ name string }
	var stack []open
	starts := 0
	for _, line := range lines {
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			rest := line[len(m[0]):]
			if m[1] == "start" {
				ts, _ := strconv.ParseInt(m[2], 10, 64)
				attrs := ` open`
				if strings.Contains(m[4], "collapsed=true") {
					attrs = ""
				}
				b.WriteString(`<details class="sec"` + attrs + `><summary>`)
				writeLine(&b, rest, &st)
				b.WriteString(`<span class="sec-t">` + time.Unix(ts, 0).UTC().Format("15:04:05") + `</span>`)
				if d, ok := durations[starts]; ok {
					b.WriteString(`<span class="sec-d">` + secondsText(float64(d)) + `</span>`)
				}
				b.WriteString(`</summary><div class="sec-b">`)
				stack = append(stack, open{name: m[3]})
				starts++
				continue
			}
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].name == m[3] {
					for range len(stack) - i {
						b.WriteString(`</div></details>`)
					}
					stack = stack[:i]
					break
				}
			}
			if strings.TrimSpace(stripEscapes(rest)) == "" {
				continue
			}
			line = rest
		}
		writeLine(&b, line, &st)
		b.WriteByte('\n')
	}
	for range stack {
		b.WriteString(`</div></details>`)
	}
	return template.HTML(b.String())
}

// sectionDurations pairs section markers and returns, by the index of
// each start, its duration in seconds.
func sectionDurations(lines []string) map[int]int64 {
	type open struct {
		name  string
		index int
		ts    int64
	}
	out := map[int]int64{}
	var stack []open
	n := 0
	for _, line := range lines {
		m := sectionRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ts, _ := strconv.ParseInt(m[2], 10, 64)
		if m[1] == "start" {
			stack = append(stack, open{name: m[3], index: n, ts: ts})
			n++
			continue
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].name == m[3] {
				out[stack[i].index] = max(ts-stack[i].ts, 0)
				stack = stack[:i]
				break
			}
		}
	}
	return out
}

// writeLine writes one line's text as spans, applying and carrying the
// SGR state. A carriage return starts the line over, as on a terminal
// (progress bars keep their last state).
func writeLine(b *strings.Builder, line string, st *sgr) {
	line = strings.TrimSuffix(line, "\r")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	var run strings.Builder
	flush := func() {
		if run.Len() == 0 {
			return
		}
		if c := st.classes(); c != "" {
			b.WriteString(`<span class="` + c + `">`)
			template.HTMLEscape(b, []byte(run.String()))
			b.WriteString(`</span>`)
		} else {
			template.HTMLEscape(b, []byte(run.String()))
		}
		run.Reset()
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != 0x1b {
			if c < 0x20 && c != '\t' {
				continue
			}
			run.WriteByte(c)
			continue
		}
		end, final, params := escapeEnd(line, i)
		if final == 'm' {
			flush()
			st.apply(params)
		}
		i = end
	}
	flush()
}

// escapeEnd finds the end of the escape sequence at line[i] (ESC): the
// index of its last byte, its final byte for CSI sequences and their
// parameters.
func escapeEnd(line string, i int) (int, byte, string) {
	if i+1 >= len(line) {
		return i, 0, ""
	}
	switch line[i+1] {
	case '[':
		for j := i + 2; j < len(line); j++ {
			if c := line[j]; c >= 0x40 && c <= 0x7e {
				return j, c, line[i+2 : j]
			}
		}
		return len(line) - 1, 0, ""
	case ']':
		for j := i + 2; j < len(line); j++ {
			if line[j] == 0x07 {
				return j, 0, ""
			}
			if line[j] == 0x1b && j+1 < len(line) && line[j+1] == '\\' {
				return j + 1, 0, ""
			}
		}
		return len(line) - 1, 0, ""
	}
	return i + 1, 0, ""
}

// stripEscapes removes escape sequences, for telling whether what
// follows a marker is empty.
func stripEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			i, _, _ = escapeEnd(s, i)
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
