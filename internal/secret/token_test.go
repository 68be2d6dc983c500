package secret_test

import (
	"regexp"
	"testing"

	"github.com/gantry-ci/gantry/internal/secret"
)

func TestNewTokenFormat(t *testing.T) {
	re := regexp.MustCompile(`^gty_runner_[0-9A-Za-z]{32}$`)
	seen := map[string]bool{}
	for range 200 {
		tok, err := secret.NewToken("runner")
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(tok) {
			t.Fatalf("token %q does not match %s", tok, re)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestNewTokenRejectsBadPrefix(t *testing.T) {
	for _, p := range []string{"", "Pat", "a_b", "a-b", "toolongprefix12345", "é"} {
		if tok, err := secret.NewToken(p); err == nil {
			t.Errorf("NewToken(%q) = %q, want error", p, tok)
		}
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256 of "abc", a published test vector, so stored hashes stay
	// comparable across releases.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := secret.HashToken("abc"); got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
	tok, _ := secret.NewToken("pat")
	if h := secret.HashToken(tok); h == tok || len(h) != 64 {
		t.Errorf("HashToken(%q) = %q", tok, h)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"", "a", false},
	}
	for _, tt := range tests {
		if got := secret.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
