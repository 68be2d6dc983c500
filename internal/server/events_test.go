package server

import (
	"testing"
	"unicode/utf8"
)

func TestUTF8BoundaryKeepsCharactersWhole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"abc", 3},
		{"añ", 3},
		{"a\xc3", 1},         // ñ cut after its first byte
		{"a\xe2\x82", 1},     // € cut after two of three bytes
		{"a\xe2\x82\xac", 4}, // € whole
		{"a\xf0\x9f\x98", 1}, // 😀 cut after three of four bytes
		{"\xc3", 1},          // nothing would be left: send it as it is
	} {
		if got := utf8Boundary([]byte(tc.in)); got != tc.want {
			t.Errorf("utf8Boundary(%q) = %d, want %d", tc.in, got, tc.want)
		}
		if got := utf8Boundary([]byte(tc.in)); got < len(tc.in) && !utf8.ValidString(tc.in[:got]) {
			t.Errorf("utf8Boundary(%q) leaves an invalid prefix", tc.in)
		}
	}
}

func TestDBSettingPicksTheStore(t *testing.T) {
	for db, pg := range map[string]bool{
		"":                                   false,
		"/var/lib/gantry/gantry.db":          false,
		"sqlite://gantry.db":                 false,
		"postgres://u@db/gantry":             true,
		"postgresql://u@db/gantry":           true,
		"host=127.0.0.1 port=5432 dbname=ci": true,
		"dbname=ci":                          true,
	} {
		if got := isPostgres(db); got != pg {
			t.Errorf("isPostgres(%q) = %v, want %v", db, got, pg)
		}
	}
}
