package report

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// GitLab's documented dotenv limits ("Dotenv file requirements"): a file of
// at most 5 KB and, on a self-managed instance by default, at most 20
// variables. GitLab.com plans allow more variables; DotenvLimits raises them.
const (
	DefaultDotenvMaxBytes     = 5 * 1024
	DefaultDotenvMaxVariables = 20
	// MaxDotenvKeyLen is the longest variable name GitLab stores.
	MaxDotenvKeyLen = 255
)

// DotenvLimits sets the size limits of ParseDotenvLimits. A zero field means
// the GitLab default.
type DotenvLimits struct {
	MaxBytes     int64
	MaxVariables int
}

func (l DotenvLimits) withDefaults() DotenvLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultDotenvMaxBytes
	}
	if l.MaxVariables <= 0 {
		l.MaxVariables = DefaultDotenvMaxVariables
	}
	return l
}

// EnvVar is one variable of a dotenv report.
type EnvVar struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Line is where the value was (last) assigned, for error messages of
	// later stages.
	Line int `json:"line"`
}

// ParseDotenv reads an `artifacts:reports:dotenv` file with GitLab's default
// limits. See ParseDotenvLimits for the rules.
func ParseDotenv(r io.Reader) ([]EnvVar, error) {
	return ParseDotenvLimits(r, DotenvLimits{})
}

// ParseDotenvLimits reads a dotenv report the way GitLab does, returning the
// variables in order of first appearance.
//
// GitLab's rules, which Gantry follows:
//   - every line is KEY=VALUE, split at the first "="; a line without "=" is
//     an error, and so are empty lines and comment lines, which GitLab rejects;
//   - surrounding whitespace of key and value is removed;
//   - keys contain only ASCII letters, digits and "_" (a leading digit is
//     allowed), at most MaxDotenvKeyLen bytes; so "export KEY=v" is an error;
//   - values are taken literally: quotes are kept, nothing is unescaped or
//     expanded, and a value cannot span lines;
//   - a repeated key keeps its first position and takes the last value;
//   - the file may be at most MaxBytes bytes and define at most MaxVariables
//     distinct keys;
//   - a UTF-8 byte order mark is dropped, and UTF-16 with a byte order mark
//     (what PowerShell writes) is converted, as GitLab converts it.
//
// Where Gantry differs: the size limit applies to the file as written, while
// GitLab measures the compressed upload, so a highly compressible file just
// over 5 KB passes GitLab but not Gantry; invalid UTF-8 and NUL bytes in a
// value are errors, where GitLab substitutes or stores them, because such a
// value could not be put into a process environment; and Gantry's limits can
// be raised by the caller.
func ParseDotenvLimits(r io.Reader, lim DotenvLimits) ([]EnvVar, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read dotenv: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		line := 1 + bytes.Count(data[:lim.MaxBytes], []byte{'\n'})
		return nil, parseErrorf("dotenv", line, "file is larger than the %d-byte limit", lim.MaxBytes)
	}
	text, err := decodeDotenvText(data)
	if err != nil {
		return nil, err
	}
	var vars []EnvVar
	index := map[string]int{}
	for n := 1; text != ""; n++ {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		key, value, err := parseDotenvLine(line, n)
		if err != nil {
			return nil, err
		}
		if i, seen := index[key]; seen {
			vars[i].Value, vars[i].Line = value, n
			continue
		}
		if len(vars) == lim.MaxVariables {
			return nil, parseErrorf("dotenv", n, "more than %d variables", lim.MaxVariables)
		}
		index[key] = len(vars)
		vars = append(vars, EnvVar{Key: key, Value: value, Line: n})
	}
	return vars, nil
}

// dotenvSpace is what Ruby's String#strip removes.
const dotenvSpace = "\x00\t\n\v\f\r "

func parseDotenvLine(line string, n int) (key, value string, err error) {
	if !utf8.ValidString(line) {
		return "", "", parseErrorf("dotenv", n, "not valid UTF-8")
	}
	k, v, found := strings.Cut(line, "=")
	if !found {
		switch t := strings.Trim(line, dotenvSpace); {
		case t == "":
			return "", "", parseErrorf("dotenv", n, "empty lines are not allowed")
		case strings.HasPrefix(t, "#"):
			return "", "", parseErrorf("dotenv", n, "comments are not allowed")
		}
		return "", "", parseErrorf("dotenv", n, "want KEY=VALUE")
	}
	key = strings.Trim(k, dotenvSpace)
	value = strings.Trim(v, dotenvSpace)
	if err := checkDotenvKey(key); err != nil {
		return "", "", parseErrorf("dotenv", n, "%s", err)
	}
	if strings.IndexByte(value, 0) >= 0 {
		return "", "", parseErrorf("dotenv", n, "value of %s contains a NUL byte", key)
	}
	return key, value, nil
}

func checkDotenvKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty variable name")
	case strings.HasPrefix(key, "#"):
		return fmt.Errorf("comments are not allowed")
	case strings.HasPrefix(key, "export ") || strings.HasPrefix(key, "export\t"):
		return fmt.Errorf("the export prefix is not supported; write %s=...", strings.TrimSpace(key[len("export"):]))
	case len(key) > MaxDotenvKeyLen:
		return fmt.Errorf("variable name longer than %d characters", MaxDotenvKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("variable name %q may contain only ASCII letters, digits and _", key)
		}
	}
	return nil
}

// decodeDotenvText drops a byte order mark and converts UTF-16 to UTF-8.
func decodeDotenvText(data []byte) (string, error) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return string(data[3:]), nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	default:
		return string(data), nil
	}
	data = data[2:]
	if len(data)%2 != 0 {
		return "", parseErrorf("dotenv", 0, "UTF-16 file has an odd number of bytes")
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	return string(utf16.Decode(units)), nil
}
