package expr

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
)

// regexFlags are the modifiers GitLab passes through to RE2. Go's regexp
// understands the same letters with the same meaning.
const regexFlags = "imsU"

// compileRegex builds a Go regexp from the body of a `/body/flags` literal.
// An escaped slash is a literal slash; every other escape is left for RE2 to
// interpret, as GitLab does.
func compileRegex(body, flags string) (*regexp.Regexp, error) {
	pattern := strings.ReplaceAll(body, `\/`, `/`)
	if flags != "" {
		pattern = "(?" + dedupeFlags(flags) + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, errors.New(string(se.Code))
		}
		return nil, err
	}
	return re, nil
}

// dedupeFlags drops repeated flag letters; `/x/ii` is legal in GitLab but
// `(?ii)` would be rejected by Go.
func dedupeFlags(flags string) string {
	var b strings.Builder
	for _, c := range flags {
		if !strings.ContainsRune(b.String(), c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// regexFromValue interprets a runtime string (a variable's value or a
// quoted string on the right of =~) as `/pattern/flags`. It reports false
// when the string is not in that form or does not compile; the caller then
// falls back to GitLab's substring comparison.
func regexFromValue(s string) (*regexp.Regexp, bool) {
	if len(s) < 2 || s[0] != '/' {
		return nil, false
	}
	end := strings.LastIndexByte(s, '/')
	if end == 0 {
		return nil, false
	}
	flags := s[end+1:]
	for _, c := range flags {
		if !strings.ContainsRune(regexFlags, c) {
			return nil, false
		}
	}
	re, err := compileRegex(s[1:end], flags)
	if err != nil {
		return nil, false
	}
	return re, true
}
