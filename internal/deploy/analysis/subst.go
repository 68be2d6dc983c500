package analysis

import (
	"fmt"
	"strings"
)

// knownPlaceholders lists the names {{…}} may hold, for error messages.
const knownPlaceholders = "app, env, canary, stable, canaryUrl, stableUrl, args.NAME"

// checkPlaceholders reports the first malformed or unknown {{…}} in s, so a
// typo is an error when the spec is read rather than a query that quietly
// matches nothing.
func checkPlaceholders(s string) error {
	_, err := expand(s, nil)
	return err
}

// expand replaces the placeholders of s with args' values; with args nil it
// only checks them. Names are trimmed, so {{ app }} works too.
func expand(s string, args *Args) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unclosed {{ in %q", s)
		}
		name := strings.TrimSpace(s[i+2 : i+2+j])
		val, err := lookup(name, args)
		if err != nil {
			return "", err
		}
		b.WriteString(s[:i])
		b.WriteString(val)
		s = s[i+2+j+2:]
	}
}

func lookup(name string, args *Args) (string, error) {
	if extra, ok := strings.CutPrefix(name, "args."); ok {
		if extra == "" {
			return "", fmt.Errorf("placeholder {{args.}} names no argument")
		}
		if args == nil {
			return "", nil
		}
		v, ok := args.Extra[extra]
		if !ok {
			return "", fmt.Errorf("placeholder {{%s}}: no argument %q was given", name, extra)
		}
		return v, nil
	}
	var a Args
	if args != nil {
		a = *args
	}
	switch name {
	case "app":
		return a.App, nil
	case "env":
		return a.Env, nil
	case "canary":
		return a.Canary, nil
	case "stable":
		return a.Stable, nil
	case "canaryUrl":
		return a.CanaryURL, nil
	case "stableUrl":
		return a.StableURL, nil
	}
	return "", fmt.Errorf("unknown placeholder {{%s}} (known: %s)", name, knownPlaceholders)
}

// blankPlaceholders replaces every {{…}} of a checked s with the word
// "placeholder", so the rest of a URL can be checked when the spec is read.
func blankPlaceholders(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("placeholder")
		s = s[i+2+j+2:]
	}
}
