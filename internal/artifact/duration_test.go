package artifact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/artifact"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
	}{
		// The examples GitLab's documentation lists for expire_in.
		{"42", 42 * time.Second},
		{"42 seconds", 42 * time.Second},
		{"3 mins 4 sec", 3*time.Minute + 4*time.Second},
		{"2 hrs 20 min", 2*time.Hour + 20*time.Minute},
		{"2h20min", 2*time.Hour + 20*time.Minute},
		{"6 mos 1 day", 6*30*day + day},
		{"47 yrs 6 mos and 4d", 47*365*day + 6*30*day + 4*day},
		{"3 weeks and 2 days", 23 * day},
		{"never", artifact.Never},
		// Other forms users write.
		{"1 week", 7 * day},
		{"30 days", 30 * day},
		{"1 Day", day},
		{"  NEVER ", artifact.Never},
		{"1.5 hours", 90 * time.Minute},
		{"1 hour, 30 minutes", 90 * time.Minute},
		{"1:30", 90 * time.Second},
		{"1:00:00", time.Hour},
		{"2:00:00:00", 2 * day},
		{"1 day 5", day + 5*time.Second},
		{"0", 0},
		{"1 y", 365 * day},
		{"2 wks", 14 * day},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := artifact.ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDurationRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "forever", "1 fortnight", "days", "1 2 days", "-1 day", "1..5 days",
		"1:2:3:4:5:6:7", "1::2", "9999999 years", "1e9 years", "1 day!", "NaN", "1 dayz",
	} {
		t.Run(in, func(t *testing.T) {
			if d, err := artifact.ParseDuration(in); err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
			}
		})
	}
}

// FuzzParseDuration checks that any accepted input gives a non-negative
// whole-second duration (or Never) that survives a round trip through its
// plain "N seconds" form.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"42", "3 mins 4 sec", "2h20min", "47 yrs 6 mos and 4d", "never", "1:30", "1.5 hours", "1e5 s", ".", "1 and and 2 s", "0x10 s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := artifact.ParseDuration(s)
		if err != nil {
			return
		}
		if d == artifact.Never {
			return
		}
		if d < 0 || d%time.Second != 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative or not whole seconds", s, d)
		}
		again, err := artifact.ParseDuration(fmt.Sprintf("%d seconds", d/time.Second))
		if err != nil || again != d {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, d, again, err)
		}
	})
}
