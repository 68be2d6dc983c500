package expr

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokVar
	tokString
	tokNull
	tokRegex
	tokEq
	tokNe
	tokMatch
	tokNoMatch
	tokAnd
	tokOr
	tokLParen
	tokRParen
)

// token is one lexeme. src is the exact source text, kept so traces and
// error messages can quote what the user wrote.
type token struct {
	kind tokenKind
	pos  int
	src  string
	text string         // variable name or decoded string value
	re   *regexp.Regexp // compiled regex literal
}

func (t token) isOperand() bool {
	switch t.kind {
	case tokVar, tokString, tokNull, tokRegex:
		return true
	}
	return false
}

func (t token) isComparison() bool {
	switch t.kind {
	case tokEq, tokNe, tokMatch, tokNoMatch:
		return true
	}
	return false
}

// lexer produces tokens on demand so that the first error in source order
// is the one reported.
type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool {
	// Ruby's \s, which GitLab uses to skip whitespace.
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	two := ""
	if start+1 < len(l.src) {
		two = l.src[start : start+2]
	}
	switch {
	case c == '$':
		return l.variable()
	case c == '"' || c == '\'':
		return l.quoted()
	case c == '/':
		return l.regex()
	case c == '(':
		return l.emit(tokLParen, 1), nil
	case c == ')':
		return l.emit(tokRParen, 1), nil
	case two == "==":
		return l.emit(tokEq, 2), nil
	case two == "!=":
		return l.emit(tokNe, 2), nil
	case two == "=~":
		return l.emit(tokMatch, 2), nil
	case two == "!~":
		return l.emit(tokNoMatch, 2), nil
	case two == "&&":
		return l.emit(tokAnd, 2), nil
	case two == "||":
		return l.emit(tokOr, 2), nil
	case c == '=':
		return token{}, syntaxErrorf(start, `unknown operator "="; use == to compare or =~ to match`)
	case c == '!':
		return token{}, syntaxErrorf(start, `unknown operator "!"; use != or !~`)
	case c == '&':
		return token{}, syntaxErrorf(start, `unknown operator "&"; use &&`)
	case c == '|':
		return token{}, syntaxErrorf(start, `unknown operator "|"; use ||`)
	case isWordByte(c):
		end := start
		for end < len(l.src) && isWordByte(l.src[end]) {
			end++
		}
		if word := l.src[start:end]; word != "null" {
			return token{}, syntaxErrorf(start, "unexpected %q: variables start with $ and strings must be quoted", word)
		}
		return l.emit(tokNull, end-start), nil
	default:
		r, _ := utf8.DecodeRuneInString(l.src[start:])
		return token{}, syntaxErrorf(start, "unexpected character %q", r)
	}
}

func (l *lexer) emit(kind tokenKind, n int) token {
	t := token{kind: kind, pos: l.pos, src: l.src[l.pos : l.pos+n]}
	l.pos += n
	return t
}

// variable scans $NAME or ${NAME}. GitLab's names are Ruby \w+, which is
// why a leading digit is accepted.
func (l *lexer) variable() (token, error) {
	start := l.pos
	i := start + 1
	braced := i < len(l.src) && l.src[i] == '{'
	if braced {
		i++
	}
	nameStart := i
	for i < len(l.src) && isWordByte(l.src[i]) {
		i++
	}
	name := l.src[nameStart:i]
	if name == "" {
		return token{}, syntaxErrorf(start, "expected a variable name after $")
	}
	if braced {
		if i >= len(l.src) || l.src[i] != '}' {
			return token{}, syntaxErrorf(start, "unterminated ${%s: missing }", name)
		}
		i++
	}
	l.pos = i
	return token{kind: tokVar, pos: start, src: l.src[start:i], text: name}, nil
}

// quoted scans a single- or double-quoted string. A backslash escapes only
// the string's own quote character; all other backslashes are literal, so
// strings GitLab accepts keep their meaning unless they end in a backslash.
func (l *lexer) quoted() (token, error) {
	start := l.pos
	q := l.src[start]
	var b strings.Builder
	for i := start + 1; i < len(l.src); i++ {
		c := l.src[i]
		switch {
		case c == '\\' && i+1 < len(l.src) && l.src[i+1] == q:
			b.WriteByte(q)
			i++
		case c == q:
			l.pos = i + 1
			return token{kind: tokString, pos: start, src: l.src[start:l.pos], text: b.String()}, nil
		default:
			b.WriteByte(c)
		}
	}
	return token{}, syntaxErrorf(start, "unterminated string: missing closing %c", q)
}

// regex scans /pattern/flags and compiles it immediately.
func (l *lexer) regex() (token, error) {
	start := l.pos
	i := start + 1
	for ; i < len(l.src) && l.src[i] != '/'; i++ {
		if l.src[i] == '\\' {
			i++ // the escaped byte (possibly a slash) is part of the body
		}
	}
	if i >= len(l.src) {
		return token{}, syntaxErrorf(start, "unterminated regular expression: missing closing /")
	}
	body := l.src[start+1 : i]
	switch utf8.RuneCountInString(body) {
	case 0:
		return token{}, syntaxErrorf(start, "empty regular expression")
	case 1:
		// Documented GitLab limitation: `/./` is an invalid expression there,
		// so reject it here too rather than pass locally and fail on GitLab.
		return token{}, syntaxErrorf(start, "single-character regular expression %s is not supported by GitLab; write e.g. /(?:%s)/", l.src[start:i+1], body)
	}
	i++ // closing slash
	flagStart := i
	for i < len(l.src) && isWordByte(l.src[i]) {
		if !strings.ContainsRune(regexFlags, rune(l.src[i])) {
			return token{}, syntaxErrorf(i, "unknown regular expression flag %q (supported: i, m, s, U)", l.src[i])
		}
		i++
	}
	re, err := compileRegex(body, l.src[flagStart:i])
	if err != nil {
		return token{}, syntaxErrorf(start, "invalid regular expression %s: %v", l.src[start:i], err)
	}
	l.pos = i
	return token{kind: tokRegex, pos: start, src: l.src[start:i], re: re}, nil
}

// describe names a token for error messages.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "end of expression"
	}
	return "\"" + t.src + "\""
}
