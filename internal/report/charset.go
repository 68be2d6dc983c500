package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// xmlCharsetReader lets encoding/xml read the encodings JUnit writers
// actually declare besides UTF-8: older Ant and Surefire versions write
// ISO-8859-1. Anything else is refused with a message naming the encoding
// rather than guessed at.
func xmlCharsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf8", "us-ascii", "ascii":
		// ASCII is a subset of UTF-8, so the bytes can be read as they are.
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: in}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (want UTF-8 or ISO-8859-1)", label)
}

// latin1Reader converts ISO-8859-1 bytes to UTF-8. Every Latin-1 byte is the
// code point of the same number, so the conversion needs no table.
type latin1Reader struct {
	r       io.Reader
	in      []byte
	pending []byte // encoded bytes that did not fit the caller's buffer
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	if n > 0 {
		return n, nil
	}
	// Each input byte becomes at most two output bytes.
	want := max(len(p)/2, 1)
	if cap(l.in) < want {
		l.in = make([]byte, want)
	}
	m, err := l.r.Read(l.in[:want])
	var buf [2]byte
	for _, b := range l.in[:m] {
		enc := buf[:utf8.EncodeRune(buf[:], rune(b))]
		if len(l.pending) == 0 && n+len(enc) <= len(p) {
			n += copy(p[n:], enc)
		} else {
			l.pending = append(l.pending, enc...)
		}
	}
	return n, err
}
