package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMetricsGolden(t *testing.T) {
	runGolden(t, "metrics", ".txt", func(t *testing.T, input []byte) (any, error) {
		ms, err := ParseMetrics(bytes.NewReader(input))
		checkMetricsError(t, err)
		return ms, err
	})
}

// checkMetricsError asserts that every part of err is a metrics *ParseError.
func checkMetricsError(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v does not list bad lines", err)
	}
	parts := joined.Unwrap()
	if len(parts) == 0 || len(parts) > maxMetricsErrors+1 {
		t.Fatalf("error lists %d parts", len(parts))
	}
	for _, e := range parts {
		var pe *ParseError
		if !errors.As(e, &pe) || pe.Report != "metrics" {
			t.Fatalf("error part %v is not a metrics *ParseError", e)
		}
	}
}

func TestMetricsValuesAsGitLabSeesThem(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		wantKey   string
		wantValue string
		wantBad   bool // the line is not valid OpenMetrics
		wantNone  bool // GitLab would not record the line
	}{
		{"plain", "build_seconds 12.5", "build_seconds", "12.5", false, false},
		{"string value as in GitLab's docs", "metric_name metric_value", "metric_name", "metric_value", true, false},
		{"version string", "app_version v1.2.3", "app_version", "v1.2.3", true, false},
		{"dash in name", "build-time 12", "build-time", "12", true, false},
		{"labels kept apart", `size_bytes{file="app.js"} 1024`, `size_bytes{file="app.js"}`, "1024", false, false},
		{"hash inside a label value", `hits{path="/#top"} 3`, `hits{path="/#top"}`, "3", false, false},
		{"trailing comment", "lines 10 # counted by cloc", "lines", "10", false, false},
		{"extra words ignored", "m 1 2 3", "m", "1", true, false},
		{"no value", "lonely_metric", "", "", true, true},
		{"value commented out", "m # 1", "", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := ParseMetrics(strings.NewReader(tt.line + "\n"))
			checkMetricsError(t, err)
			if (err != nil) != tt.wantBad {
				t.Fatalf("error = %v, want bad line %v", err, tt.wantBad)
			}
			if tt.wantNone {
				if len(ms) != 0 {
					t.Fatalf("got %v, want nothing recorded", ms)
				}
				return
			}
			if len(ms) != 1 || ms[0].Key() != tt.wantKey || ms[0].Value != tt.wantValue {
				t.Fatalf("got %v, want %s = %s", ms, tt.wantKey, tt.wantValue)
			}
		})
	}
}

func TestMetricsFloat(t *testing.T) {
	ms, err := ParseMetrics(strings.NewReader("a 0.25\nb +Inf\nc NaN\nd 1e3\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.25, math.Inf(1), math.NaN(), 1000}
	for i, m := range ms {
		v, ok := m.Float()
		if !ok || !(v == want[i] || math.IsNaN(v) && math.IsNaN(want[i])) {
			t.Fatalf("%s: Float() = %v, %v; want %v", m.Name, v, ok, want[i])
		}
	}
	if _, ok := (Metric{Value: "v1"}).Float(); ok {
		t.Fatal(`"v1" parsed as a number`)
	}
}

func TestMetricsErrorListIsCapped(t *testing.T) {
	var in bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&in, "bad-%d x\n", i)
	}
	ms, err := ParseMetrics(&in)
	checkMetricsError(t, err)
	if len(ms) != 50 {
		t.Fatalf("got %d metrics, want all 50 kept", len(ms))
	}
	if !strings.Contains(err.Error(), "metrics: 30 more bad lines not listed") {
		t.Fatalf("error does not summarise the rest:\n%v", err)
	}
}

func FuzzMetrics(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "metrics", "*.txt"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseMetrics(bytes.NewReader(data))
		checkMetricsError(t, err)
		for _, m := range ms {
			if m.Name == "" || m.Value == "" || m.Line < 1 {
				t.Fatalf("incomplete metric %+v", m)
			}
			// Each metric written back out reads as the same metric.
			again, _ := ParseMetrics(strings.NewReader(m.String() + "\n"))
			if len(again) != 1 {
				t.Fatalf("%q read back as %d metrics", m.String(), len(again))
			}
			a := again[0]
			if a.Name != m.Name || a.Value != m.Value || a.Timestamp != m.Timestamp || !slices.Equal(a.Labels, m.Labels) {
				t.Fatalf("round trip changed %#v into %#v", m, a)
			}
		}
	})
}

func BenchmarkParseMetrics(b *testing.B) {
	var in bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&in, "# TYPE bundle_size_bytes_%d gauge\nbundle_size_bytes_%d{file=\"chunk-%d.js\",env=\"prod\"} %d\n", i, i, i, i*1024)
	}
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		ms, err := ParseMetrics(bytes.NewReader(in.Bytes()))
		if err != nil || len(ms) != 2000 {
			b.Fatal(len(ms), err)
		}
	}
}
