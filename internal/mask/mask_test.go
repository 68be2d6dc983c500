package mask

import (
	"bytes"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"no secrets", nil, "hello $TOKEN", "hello $TOKEN"},
		{"empty secret ignored", []string{""}, "abc", "abc"},
		{"single", []string{"s3cr3t-value"}, "token=s3cr3t-value;", "token=[MASKED];"},
		{"repeated", []string{"hunter22"}, "hunter22hunter22 x hunter22", "[MASKED][MASKED] x [MASKED]"},
		{"longest wins at one position", []string{"abc", "abcdef"}, "xabcdefx abcx", "x[MASKED]x [MASKED]x"},
		{"overlap keeps no secret readable", []string{"abcd", "cdef"}, "abcdef", "[MASKED]ef"},
		{"prefix of secret not masked", []string{"password1"}, "passwor", "passwor"},
		{
			"multi-line secret whole and by line",
			[]string{"-----BEGIN KEY-----\nAAAAbbbbCCCC\nshort\n-----END KEY-----"},
			"key: -----BEGIN KEY-----\nAAAAbbbbCCCC\nshort\n-----END KEY-----\n  AAAAbbbbCCCC reflowed, short stays",
			"key: [MASKED]\n  [MASKED] reflowed, short stays",
		},
		{"crlf lines", []string{"line-one-x\r\nline-two-y"}, "> line-two-y", "> [MASKED]"},
		{"binary bytes", []string{"\x00\xff\x10secret"}, "a\x00\xff\x10secretb", "a[MASKED]b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(tt.secrets)
			if got := m.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// Writing one byte at a time must give the same log.
			var out bytes.Buffer
			w := m.Writer(&out)
			for i := range len(tt.in) {
				if _, err := w.Write([]byte{tt.in[i]}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("byte-by-byte = %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// A live log must show what cannot be part of a secret immediately, and
// hold back only a possible secret prefix.
func TestWriterHoldsBackOnlyPossiblePrefix(t *testing.T) {
	m := New([]string{"topsecret"})
	var out bytes.Buffer
	w := m.Writer(&out)
	steps := []struct{ write, shown string }{
		{"building...\n", "building...\n"},
		{"token top", "building...\ntoken "},
		{"sec", "building...\ntoken "},
		{"ret done\n", "building...\ntoken [MASKED] done\n"},
		{"tops", "building...\ntoken [MASKED] done\n"},
		{"oil\n", "building...\ntoken [MASKED] done\ntopsoil\n"},
		{"top", "building...\ntoken [MASKED] done\ntopsoil\n"},
	}
	for _, s := range steps {
		if _, err := w.Write([]byte(s.write)); err != nil {
			t.Fatal(err)
		}
		if out.String() != s.shown {
			t.Fatalf("after writing %q the log shows %q, want %q", s.write, out.String(), s.shown)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "building...\ntoken [MASKED] done\ntopsoil\ntop"; out.String() != want {
		t.Fatalf("after Close: %q, want %q", out.String(), want)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestWith(t *testing.T) {
	base := New([]string{"first-secret"})
	both := base.With("second-secret")
	in := "first-secret second-secret"
	if got := base.String(in); got != "[MASKED] second-secret" {
		t.Errorf("base changed by With: %q", got)
	}
	if got := both.String(in); got != "[MASKED] [MASKED]" {
		t.Errorf("With: %q", got)
	}
	var nilMasker *Masker
	if got := nilMasker.With("abc").String("xabcx"); got != "x[MASKED]x" {
		t.Errorf("nil With: %q", got)
	}
	if got := nilMasker.String("abc"); got != "abc" {
		t.Errorf("nil String: %q", got)
	}
}

// FuzzWriter feeds arbitrary input, split at arbitrary points, through the
// streaming filter: the result must equal String's and no secret may be
// readable between the [MASKED] markers.
func FuzzWriter(f *testing.F) {
	f.Add("abcd", "cdef", "xxabcdefxx", []byte{1, 2, 3})
	f.Add("hunter2hunter2", "hunter2", "hunter2hunter2hunter2", []byte{5, 0, 9})
	f.Add("multi\nline-secret", "zz", "line-secret multi\nline-secret", []byte{4})
	f.Add("aaa", "aa", "aaaaaaa", []byte{1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, s1, s2, in string, cuts []byte) {
		m := New([]string{s1, s2})
		want := m.String(in)

		var out bytes.Buffer
		w := m.Writer(&out)
		rest := in
		for _, c := range cuts {
			n := min(int(c), len(rest))
			if _, err := w.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if _, err := w.Write([]byte(rest)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Fatalf("chunked output %q differs from String %q", out.String(), want)
		}
		for _, piece := range strings.Split(want, Replacement) {
			for _, s := range m.secrets {
				if strings.Contains(piece, s) {
					t.Fatalf("secret %q readable in %q (input %q)", s, want, in)
				}
			}
		}
	})
}

func BenchmarkWriter(b *testing.B) {
	m := New([]string{"glpat-0123456789abcdef", "another-secret-value", "-----BEGIN\nKEYKEYKEYKEY\n-----END"})
	line := []byte(strings.Repeat("compiling crate foo v1.2.3 (/builds/project) glpat-0123 ", 2) + "\n")
	b.SetBytes(int64(len(line)))
	w := m.Writer(discard{})
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
