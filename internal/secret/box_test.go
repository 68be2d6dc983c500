package secret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/secret"
)

func newBox(t testing.TB, fill byte) *secret.Box {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{fill}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func TestSealOpenRoundTrip(t *testing.T) {
	box := newBox(t, 1)
	for _, pt := range [][]byte{nil, {}, []byte("hunter2"), bytes.Repeat([]byte{0, 0xff}, 5000)} {
		sealed, err := box.Seal(pt, "project/7/variable/TOKEN")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") {
			t.Errorf("sealed %q lacks version prefix", sealed)
		}
		if len(pt) > 0 && strings.Contains(sealed, string(pt)) {
			t.Errorf("sealed text contains the plaintext")
		}
		got, err := box.Open(sealed, "project/7/variable/TOKEN")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if got == nil || !bytes.Equal(got, pt) {
			t.Errorf("open = %q, want %q", got, pt)
		}
	}
}

func TestSealIsRandomised(t *testing.T) {
	box := newBox(t, 1)
	a, _ := box.Seal([]byte("same"), "x")
	b, _ := box.Seal([]byte("same"), "x")
	if a == b {
		t.Error("two seals of the same secret are identical; equal secrets would be visible in the database")
	}
}

func TestOpenFailures(t *testing.T) {
	box := newBox(t, 1)
	sealed, err := box.Seal([]byte("hunter2"), "project/7/variable/TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(sealed, "v1:")
	// Flip one character in the middle of the base64 body.
	mid := len(body) / 2
	flip := byte('A')
	if body[mid] == 'A' {
		flip = 'B'
	}
	tampered := "v1:" + body[:mid] + string(flip) + body[mid+1:]
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	truncated := "v1:" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-3])

	tests := []struct {
		name   string
		box    *secret.Box
		sealed string
		aad    string
		want   error
	}{
		{"wrong aad", box, sealed, "project/8/variable/TOKEN", secret.ErrDecrypt},
		{"empty aad", box, sealed, "", secret.ErrDecrypt},
		{"wrong key", newBox(t, 2), sealed, "project/7/variable/TOKEN", secret.ErrDecrypt},
		{"tampered", box, tampered, "project/7/variable/TOKEN", secret.ErrDecrypt},
		{"truncated tail", box, truncated, "project/7/variable/TOKEN", secret.ErrDecrypt},
		{"too short", box, "v1:" + body[:20], "project/7/variable/TOKEN", secret.ErrMalformed},
		{"empty body", box, "v1:", "project/7/variable/TOKEN", secret.ErrMalformed},
		{"no prefix", box, body, "project/7/variable/TOKEN", secret.ErrMalformed},
		{"unknown version", box, "v2:" + body, "project/7/variable/TOKEN", secret.ErrMalformed},
		{"plaintext", box, "hunter2", "project/7/variable/TOKEN", secret.ErrMalformed},
		{"bad base64", box, "v1:" + body + "!", "project/7/variable/TOKEN", secret.ErrMalformed},
		{"empty", box, "", "", secret.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned data %q alongside an error", got)
			}
			if strings.Contains(err.Error(), body) {
				t.Errorf("error echoes the sealed value: %v", err)
			}
		})
	}
}

func TestNewBoxRejectsBadKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := secret.NewBox(make([]byte, n)); err == nil {
			t.Errorf("NewBox accepted a %d-byte key", n)
		}
	}
}

func TestNilBoxDoesNotPanic(t *testing.T) {
	var box *secret.Box
	if _, err := box.Seal([]byte("x"), ""); err == nil {
		t.Error("nil box sealed")
	}
	if _, err := box.Open("v1:AAAA", ""); err == nil {
		t.Error("nil box opened")
	}
}

func FuzzOpen(f *testing.F) {
	box := newBox(f, 1)
	good, err := box.Seal([]byte("hunter2"), "project/7/variable/TOKEN")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "project/7/variable/TOKEN", []byte("hunter2"))
	f.Add("v1:", "", []byte{})
	f.Add("v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", []byte{0})
	f.Add("v2:abc", "a", []byte("\x00\xff"))
	f.Add("", "", []byte(nil))
	f.Add("v1:====", "é", []byte("long secret value with spaces"))
	f.Fuzz(func(t *testing.T, sealed, aad string, plaintext []byte) {
		// Arbitrary text never panics and opens only if it is a seal of the
		// seed secret (each fuzz worker seals its own copy, so compare the
		// content, not the text); anything else would be a forgery.
		if got, err := box.Open(sealed, aad); err == nil && (aad != "project/7/variable/TOKEN" || string(got) != "hunter2") {
			t.Fatalf("arbitrary input %q opened to %q", sealed, got)
		} else if err != nil && !errors.Is(err, secret.ErrMalformed) && !errors.Is(err, secret.ErrDecrypt) {
			t.Fatalf("unclassified error %v", err)
		}
		// Anything sealed opens again under the same owner only.
		s, err := box.Seal(plaintext, aad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := box.Open(s, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plaintext, got, err)
		}
		if _, err := box.Open(s, aad+"x"); !errors.Is(err, secret.ErrDecrypt) {
			t.Fatalf("opened under another owner: %v", err)
		}
	})
}
