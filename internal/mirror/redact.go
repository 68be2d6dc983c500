package mirror

import (
	"net/url"
	"regexp"
	"strings"
)

// mask replaces secrets in redacted text. A secret made only of mask
// characters still reads as a mask afterwards, which reveals nothing.
const mask = "xxxxx"

// userinfoRE finds the userinfo part of any URL-looking text, including
// URLs that git prints inside its own messages.
var userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s@'"<>]*)@`)

// RedactURL returns remote fit for logs and error messages: a password, or
// an http(s) user name that may itself be a token, is replaced by a mask.
func RedactURL(remote string) string {
	return userinfoRE.ReplaceAllStringFunc(remote, redactUserinfo)
}

// redactUserinfo masks one "scheme://userinfo@" match. SSH user names such
// as "git" carry no secret and stay readable; everything that could be a
// password or a token goes.
func redactUserinfo(match string) string {
	sub := userinfoRE.FindStringSubmatch(match)
	scheme, info := sub[1], sub[2]
	lower := strings.ToLower(scheme)
	if strings.Contains(info, ":") || strings.HasPrefix(lower, "http") {
		return scheme + mask + "@"
	}
	return match
}

// redactor scrubs the credentials of one remote from arbitrary text, such
// as git's stderr, which may quote the URL or parts of it in any form.
type redactor struct {
	secrets []string
}

// newRedactor remembers every spelling of the remote's secrets that git
// might print: the raw URL, the decoded and the encoded password or token.
func newRedactor(remote string) redactor {
	var r redactor
	add := func(s string) {
		// Very short secrets would shred ordinary words; the URL-shaped
		// redaction still covers them where git prints the URL.
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	if u, err := url.Parse(remote); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
			add(url.QueryEscape(pw))
			add(url.PathEscape(pw))
		} else if strings.HasPrefix(strings.ToLower(u.Scheme), "http") {
			// A lone http user name is how many forges take a token.
			add(u.User.Username())
		}
		if i := strings.Index(remote, "://"); i >= 0 {
			if j := strings.LastIndex(remote[i+3:], "@"); j >= 0 {
				info := remote[i+3 : i+3+j]
				_, encPw, _ := strings.Cut(info, ":")
				add(encPw)
			}
		}
	}
	return r
}

// text returns s with every URL's userinfo and every known secret masked.
func (r redactor) text(s string) string {
	s = RedactURL(s)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, mask)
	}
	return s
}
