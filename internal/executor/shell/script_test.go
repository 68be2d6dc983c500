package shell

import (
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDisplayCommand(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"echo hi", "echo hi"},
		{"echo hi\n", "echo hi"},
		{"echo a\necho b\n", "echo a" + multiLineNote},
		{"if true; then  \n  echo b\nfi", "if true; then" + multiLineNote},
		{"", ""},
	}
	for _, tt := range tests {
		if got := displayCommand(tt.in); got != tt.want {
			t.Errorf("displayCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNeedleWatchAcrossChunks(t *testing.T) {
	t.Parallel()
	stream := "noise " + beforeEndNeedle + " more"
	// Every split of the stream into two or three chunks must find it.
	for i := 0; i <= len(stream); i++ {
		for j := i; j <= len(stream); j++ {
			w := newNeedleWatch(beforeEndNeedle)
			w.feed([]byte(stream[:i]))
			w.feed([]byte(stream[i:j]))
			w.feed([]byte(stream[j:]))
			if !w.found {
				t.Fatalf("needle missed when split at %d,%d", i, j)
			}
		}
	}
	w := newNeedleWatch(beforeEndNeedle)
	almost := beforeEndNeedle[:len(beforeEndNeedle)-1]
	for range 3 {
		w.feed([]byte(almost))
		w.feed([]byte("x"))
	}
	if w.found {
		t.Error("needle found in a stream that does not contain it")
	}
}

// FuzzQuote checks that any command text survives the two levels of
// quoting the generated script uses (an argument inside the eval'd body)
// byte for byte, so echoed commands show exactly what runs and no command
// text can break out of its quotes.
func FuzzQuote(f *testing.F) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		f.Skip("bash not found")
	}
	for _, s := range []string{"", "plain", "it's", `'\''`, "a\nb\n", "$(rm -rf /) `x` ${HOME}", "\x1b[31mred", "%s %d \\n", "\x00nul", "'\"'\"'", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 4096 {
			t.Skip()
		}
		script := string(wrap("builtin printf '%s' " + quote(s) + "\n"))
		out, err := exec.Command(bash, "--noprofile", "--norc", "-c", script).Output()
		if err != nil {
			t.Fatalf("bash failed on %q: %v", script, err)
		}
		if want := strings.ReplaceAll(s, "\x00", ""); string(out) != want {
			t.Fatalf("quote(%q) round-trips to %q", s, out)
		}
	})
}
