package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDotenvGolden(t *testing.T) {
	runGolden(t, "dotenv", ".env", func(t *testing.T, input []byte) (any, error) {
		vars, err := ParseDotenv(bytes.NewReader(input))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %v is not a *ParseError", err)
			}
			return nil, err
		}
		return vars, nil
	})
}

func TestDotenvLimits(t *testing.T) {
	var many []byte
	for i := range 60 {
		many = fmt.Appendf(many, "VAR_%d=%d\n", i, i)
	}
	tests := []struct {
		name    string
		lim     DotenvLimits
		input   []byte
		wantN   int
		wantErr string
	}{
		{"GitLab.com free tier allows 50", DotenvLimits{MaxVariables: 50}, many[:bytes.Index(many, []byte("VAR_50="))], 50, ""},
		{"51st variable is refused", DotenvLimits{MaxVariables: 50}, many, 0, "dotenv: line 51: more than 50 variables"},
		{"larger files when allowed", DotenvLimits{MaxBytes: 1 << 20, MaxVariables: 100}, many, 60, ""},
		{"size limit names the line", DotenvLimits{MaxBytes: 20}, []byte("AAAA=1\nBBBB=2\nCCCC=3\nDDDD=4\n"), 0, "dotenv: line 3: file is larger than the 20-byte limit"},
		{"exactly at the size limit", DotenvLimits{MaxBytes: 14}, []byte("AAAA=1\nBBBB=2\n"), 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, err := ParseDotenvLimits(bytes.NewReader(tt.input), tt.lim)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(vars) != tt.wantN {
				t.Fatalf("got %d vars, %v; want %d", len(vars), err, tt.wantN)
			}
		})
	}
}

// formatDotenv writes variables the way a job script would (echo K=V).
func formatDotenv(vars []EnvVar) []byte {
	var b bytes.Buffer
	for _, v := range vars {
		fmt.Fprintf(&b, "%s=%s\n", v.Key, v.Value)
	}
	return b.Bytes()
}

func FuzzDotenv(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "dotenv", "*.env"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseDotenv(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "dotenv: ") {
				t.Fatalf("error %q is not a dotenv *ParseError", err)
			}
			return
		}
		if len(vars) > DefaultDotenvMaxVariables {
			t.Fatalf("%d variables passed the limit", len(vars))
		}
		seen := map[string]bool{}
		for _, v := range vars {
			if seen[v.Key] {
				t.Fatalf("key %q returned twice", v.Key)
			}
			seen[v.Key] = true
		}
		// Parsed variables written back out must parse to the same pairs.
		again, err := ParseDotenvLimits(bytes.NewReader(formatDotenv(vars)), DotenvLimits{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("re-parsing %q: %v", formatDotenv(vars), err)
		}
		if len(again) != len(vars) {
			t.Fatalf("round trip: %d vars, want %d", len(again), len(vars))
		}
		for i := range vars {
			if again[i].Key != vars[i].Key || again[i].Value != vars[i].Value {
				t.Fatalf("round trip changed %q=%q into %q=%q", vars[i].Key, vars[i].Value, again[i].Key, again[i].Value)
			}
		}
	})
}

func BenchmarkParseDotenv(b *testing.B) {
	var in []byte
	for i := range DefaultDotenvMaxVariables {
		in = fmt.Appendf(in, "BUILD_VAR_%d=https://review.example.com/pipelines/%d\n", i, i*1000)
	}
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseDotenv(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
