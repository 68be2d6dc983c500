package pipeline

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"3600", time.Hour, false},
		{"30 minutes", 30 * time.Minute, false},
		{"1h 30m", 90 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"2 hrs 20 min", 2*time.Hour + 20*time.Minute, false},
		{"3 mins 4 sec", 3*time.Minute + 4*time.Second, false},
		{"1 week", 7 * day, false},
		{"2 weeks and 1 day", 15 * day, false},
		{"1 day, 2 hours", day + 2*time.Hour, false},
		{"1.5 days", 36 * time.Hour, false},
		{"1 month", 30 * day, false},
		{"1 year", 365 * day, false},
		{"10 S", 10 * time.Second, false},
		{"", 0, true},
		{"soon", 0, true},
		{"5", 5 * time.Second, false},
		{"5 fortnights", 0, true},
		{"1h banana", 0, true},
		{"-5 min", 0, true},
		{"1e400", 0, true},
		{"99999999999 years", 0, true},
		{"never", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if (err != nil) != c.err {
			t.Errorf("ParseDuration(%q) error = %v, want error %v", c.in, err, c.err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1h 30m", "2 weeks and 1 day", "3600", "1.5 days", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, a negative duration", s, d)
		}
	})
}
