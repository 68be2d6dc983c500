// Package mask hides secret values in job logs before anyone sees them, the
// way GitLab replaces masked variables with [MASKED]. It works on streams:
// a job's output arrives in arbitrary chunks and a secret split across two
// writes must still be caught, while everything that cannot be the start of
// a secret is passed on at once so live logs do not lag.
package mask

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
)

// Replacement is what every secret becomes, as in GitLab's job logs.
const Replacement = "[MASKED]"

// minLinePart is the shortest line of a multi-line secret that is also
// masked on its own. GitLab refuses to mask values shorter than 8
// characters; shorter lines would hide ordinary words in the log.
const minLinePart = 8

// Masker knows the secrets of one pipeline. It is immutable and safe for
// concurrent use; each Writer it makes has its own state.
type Masker struct {
	// byFirst holds, for every first byte, the secrets starting with it,
	// longest first, so that at one position the longest secret wins.
	byFirst [256][][]byte
	secrets []string
	maxLen  int
}

// New returns a Masker for these secrets. Empty strings are ignored. A
// secret spanning several lines is masked whole, and each of its lines of
// 8 or more bytes is masked on its own too, because tools often re-wrap or
// prefix lines of what they print.
func New(secrets []string) *Masker {
	m := &Masker{}
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		m.secrets = append(m.secrets, s)
	}
	for _, s := range secrets {
		add(s)
		if !strings.ContainsAny(s, "\r\n") {
			continue
		}
		for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if len(line) >= minLinePart {
				add(line)
			}
		}
	}
	for _, s := range m.secrets {
		m.byFirst[s[0]] = append(m.byFirst[s[0]], []byte(s))
		m.maxLen = max(m.maxLen, len(s))
	}
	for i := range m.byFirst {
		slices.SortStableFunc(m.byFirst[i], func(a, b []byte) int { return len(b) - len(a) })
	}
	return m
}

// With returns a Masker that hides these secrets as well as m's; m itself
// is left as it is. A nil m is treated as a Masker with no secrets.
func (m *Masker) With(secrets ...string) *Masker {
	if m == nil {
		return New(secrets)
	}
	return New(append(slices.Clone(m.secrets), secrets...))
}

// Empty reports whether m masks nothing, so callers can skip the filter.
func (m *Masker) Empty() bool { return m == nil || len(m.secrets) == 0 }

// String returns s with every secret replaced.
func (m *Masker) String(s string) string {
	if m.Empty() {
		return s
	}
	var out bytes.Buffer
	rest := m.scan(&out, []byte(s), true)
	out.Write(rest)
	return out.String()
}

// scan appends the masked form of buf to out for every position it can
// decide, and returns the tail it cannot decide yet: the bytes from the
// first position where a secret might start but buf ends too early to
// tell. With final set, the input is complete and nothing is held back.
func (m *Masker) scan(out *bytes.Buffer, buf []byte, final bool) []byte {
	lit := 0 // start of the literal run not yet written
	for p := 0; p < len(buf); {
		cands := m.byFirst[buf[p]]
		if len(cands) == 0 {
			p++
			continue
		}
		n, undecided := match(cands, buf[p:], final)
		if undecided {
			out.Write(buf[lit:p])
			return buf[p:]
		}
		if n == 0 {
			p++
			continue
		}
		out.Write(buf[lit:p])
		out.WriteString(Replacement)
		p += n
		lit = p
	}
	out.Write(buf[lit:])
	return nil
}

// match returns the length of the longest candidate at the start of tail,
// or undecided when a candidate longer than tail still begins with all of
// tail and more input could complete it.
func match(cands [][]byte, tail []byte, final bool) (n int, undecided bool) {
	for _, c := range cands { // longest first
		if len(c) > len(tail) {
			if !final && bytes.HasPrefix(c, tail) {
				return 0, true
			}
			continue
		}
		if bytes.Equal(tail[:len(c)], c) {
			return len(c), false
		}
	}
	return 0, false
}

// errClosed is returned by writes after Close.
var errClosed = errors.New("mask: write after close")

// Writer returns a filter that masks everything written to it before
// passing it to w. It holds back at most len(longest secret)-1 bytes, and
// only while they could be the start of a secret; Close writes them out
// (it does not close w). The filter is safe for concurrent use, so stdout
// and stderr of one job may share it.
func (m *Masker) Writer(w io.Writer) io.WriteCloser {
	return &writer{m: m, w: w}
}

type writer struct {
	mu      sync.Mutex
	m       *Masker
	w       io.Writer
	pending []byte
	out     bytes.Buffer
	closed  bool
}

// Write masks p together with any bytes held back from earlier writes. It
// reports len(p) on success even though some bytes may still be held.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errClosed
	}
	if w.m.Empty() {
		return w.w.Write(p)
	}
	buf := p
	if len(w.pending) > 0 {
		w.pending = append(w.pending, p...)
		buf = w.pending
	}
	rest := w.m.scan(&w.out, buf, false)
	// rest aliases buf; keep a private copy since p belongs to the caller.
	w.pending = append(w.pending[:0:0], rest...)
	if err := w.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes out the held-back bytes, masked as complete input.
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(w.pending) == 0 {
		return nil
	}
	rest := w.m.scan(&w.out, w.pending, true)
	w.out.Write(rest)
	w.pending = nil
	return w.flush()
}

func (w *writer) flush() error {
	if w.out.Len() == 0 {
		return nil
	}
	_, err := w.w.Write(w.out.Bytes())
	w.out.Reset()
	return err
}
