package forge

import "testing"

func TestSkipCI(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"Fix the build", false},
		{"", false},
		{"docs: typo [skip ci]", true},
		{"[CI SKIP] bump version", true},
		{"Update README\n\nNothing to build here. [Skip CI]", true},
		{"[no ci] tweak", true},
		{"[skip actions]", true},
		{"[Actions Skip] tidy", true},
		{"skip ci without brackets", false},
		{"[skip-ci] as GitLab allows", true},
		{"wip [ci_skip]", true},
		{"[skip  ci]", false},
		{"[skipci]", false},
		{"Typo\n\n\nskip-checks: true", true},
		{"Typo\n\n\nskip-checks:true\n", true},
		{"Typo\n\nSigned-off-by: A <a@example.com>\nSkip-Checks: TRUE", true},
		{"Typo\n\nskip-checks: true\nSigned-off-by: A <a@example.com>", false},
		{"Typo\n\nskip-checks: false", false},
		{"mention skip-checks: true inline", false},
	}
	for _, tt := range tests {
		if got := SkipCI(tt.msg); got != tt.want {
			t.Errorf("SkipCI(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}
