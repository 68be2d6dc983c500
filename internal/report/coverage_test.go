package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

type coverageResult struct {
	Value float64 `json:"value"`
	OK    bool    `json:"ok"`
}

// Each testdata/coverage/*.txt holds the coverage: pattern on its first line
// and the job log after it.
func TestCoverageGolden(t *testing.T) {
	runGolden(t, "coverage", ".txt", func(t *testing.T, input []byte) (any, error) {
		pattern, log, _ := bytes.Cut(input, []byte{'\n'})
		v, ok, err := Coverage(string(pattern), log)
		if err != nil {
			return nil, err
		}
		// The streaming form must agree whatever the chunking.
		for _, size := range []int{1, 2, 7, 64} {
			sv, sok := scanInChunks(t, string(pattern), log, size)
			if sv != v || sok != ok {
				t.Errorf("chunks of %d: got (%v, %v), whole log gave (%v, %v)", size, sv, sok, v, ok)
			}
		}
		return coverageResult{Value: v, OK: ok}, nil
	})
}

func scanInChunks(t testing.TB, pattern string, log []byte, size int) (float64, bool) {
	t.Helper()
	s, err := NewCoverageScanner(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for len(log) > 0 {
		n := min(size, len(log))
		if w, err := s.Write(log[:n]); w != n || err != nil {
			t.Fatalf("Write = %d, %v", w, err)
		}
		log = log[n:]
	}
	return s.Result()
}

func TestCoverageScannerResultMidStream(t *testing.T) {
	s, err := NewCoverageScanner(`/Coverage: (\d+)%/`)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		write  string
		want   float64
		wantOK bool
	}{
		{"starting\n", 0, false},
		{"Coverage: 42%", 42, true}, // the unterminated line counts as it stands
		{" so far\n", 42, true},
		{"Coverage: n/a\n", 42, true},
		{"Coverage: 90%", 90, true},
	}
	for _, st := range steps {
		_, _ = s.Write([]byte(st.write))
		if v, ok := s.Result(); v != st.want || ok != st.wantOK {
			t.Fatalf("after writing %q: Result() = (%v, %v), want (%v, %v)", st.write, v, ok, st.want, st.wantOK)
		}
	}
}

func TestCoverageScannerIsAWriter(t *testing.T) {
	s, err := NewCoverageScanner(`/TOTAL.*\s(\d+)%/`)
	if err != nil {
		t.Fatal(err)
	}
	var logFile bytes.Buffer
	w := io.MultiWriter(&logFile, s)
	fmt.Fprintln(w, "TOTAL 12 3 75%")
	if v, ok := s.Result(); !ok || v != 75 {
		t.Fatalf("Result() = %v, %v; want 75, true", v, ok)
	}
	if logFile.String() != "TOTAL 12 3 75%\n" {
		t.Fatalf("log copy = %q", logFile.String())
	}
}

func TestCoverageVeryLongLine(t *testing.T) {
	// A progress bar with no newline is searched only in its first
	// MaxCoverageLineBytes, and memory stays bounded.
	var log bytes.Buffer
	log.WriteString("Coverage: 33%")
	log.Write(bytes.Repeat([]byte("#"), 3*MaxCoverageLineBytes))
	log.WriteString("Coverage: 99%\nafter\n")
	s, err := NewCoverageScanner(`/Coverage: (\d+)%/`)
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(log.Bytes(), 4096) {
		_, _ = s.Write(chunk)
		if cap(s.partial) > 2*MaxCoverageLineBytes {
			t.Fatalf("partial line buffer grew to %d bytes", cap(s.partial))
		}
	}
	if v, ok := s.Result(); !ok || v != 33 {
		t.Fatalf("Result() = %v, %v; want 33, true", v, ok)
	}
}

func TestCoverageHugeNumberSkipped(t *testing.T) {
	log := "Coverage: 12.5\nCoverage: " + strings.Repeat("9", 400) + "\n"
	v, ok, err := Coverage(`/Coverage: \d+(?:\.\d+)?/`, []byte(log))
	if err != nil || !ok || v != 12.5 {
		t.Fatalf("Coverage = %v, %v, %v; want 12.5 from the earlier line", v, ok, err)
	}
}

func FuzzCoverage(f *testing.F) {
	f.Add(`/Coverage: (\d+)%/`, []byte("Coverage: 10%\nCoverage: 20%\n"), uint8(3))
	f.Add(`/TOTAL.*? (100(?:\.0+)?\%|[1-9]?\d(?:\.\d+)?\%)$/`, []byte("TOTAL 1 2 88%\r\n"), uint8(1))
	f.Add(`/a|(b)|(c)/`, []byte("abc\nxyz\n1a2b3c"), uint8(5))
	f.Add(`/.*/`, []byte("2024-05-01T10:00:00.123456Z 00O 5\n7"), uint8(2))
	f.Add(`/x*/`, []byte(""), uint8(0))
	f.Fuzz(func(t *testing.T, pattern string, log []byte, chunk uint8) {
		v, ok, err := Coverage(pattern, log)
		if err != nil {
			if ok || v != 0 {
				t.Fatalf("error %v came with a value (%v, %v)", err, v, ok)
			}
			return
		}
		if !ok && v != 0 {
			t.Fatalf("no coverage but value %v", v)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("coverage %v is not a finite non-negative number", v)
		}
		sv, sok := scanInChunks(t, pattern, log, int(chunk)+1)
		if sv != v || sok != ok {
			t.Fatalf("streaming in chunks of %d gave (%v, %v), whole log (%v, %v)", int(chunk)+1, sv, sok, v, ok)
		}
	})
}

func BenchmarkCoverageScanner(b *testing.B) {
	var log bytes.Buffer
	for i := 0; log.Len() < 8<<20; i++ {
		fmt.Fprintf(&log, "tests/test_module_%d.py::test_case_%d PASSED                  [ %d%%]\n", i%97, i, i%100)
	}
	log.WriteString("TOTAL               12400   1500    88%\n")
	b.SetBytes(int64(log.Len()))
	for b.Loop() {
		s, err := NewCoverageScanner(`/TOTAL.*? (100(?:\.0+)?\%|[1-9]?\d(?:\.\d+)?\%)$/`)
		if err != nil {
			b.Fatal(err)
		}
		for chunk := range slices.Chunk(log.Bytes(), 32<<10) {
			_, _ = s.Write(chunk)
		}
		if v, ok := s.Result(); !ok || v != 88 {
			b.Fatalf("Result() = %v, %v", v, ok)
		}
	}
}
