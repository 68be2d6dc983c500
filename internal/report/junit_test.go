package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJUnitGolden(t *testing.T) {
	runGolden(t, "junit", ".xml", func(t *testing.T, input []byte) (any, error) {
		s, err := ParseJUnit(bytes.NewReader(input))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %v is not a *ParseError", err)
			}
			return nil, err
		}
		checkSummary(t, s)
		return s, nil
	})
}

// checkSummary asserts the invariants every summary must keep.
func checkSummary(t testing.TB, s *TestSummary) {
	t.Helper()
	if s.Failures < 0 || s.Errors < 0 || s.Skipped < 0 || s.Passed() < 0 {
		t.Fatalf("counts do not add up: %+v", s)
	}
	if got := len(s.Failed) + s.FailedOmitted; got != s.Failures+s.Errors {
		t.Fatalf("%d failed tests listed or omitted, want failures+errors = %d", got, s.Failures+s.Errors)
	}
	if len(s.Failed) > MaxFailedTests {
		t.Fatalf("%d failed tests kept, limit %d", len(s.Failed), MaxFailedTests)
	}
	if s.Time < 0 {
		t.Fatalf("negative time %v", s.Time)
	}
	for _, f := range s.Failed {
		if f.Status != StatusFailed && f.Status != StatusError {
			t.Fatalf("failed test %q has status %q", f.Name, f.Status)
		}
		if len(f.Output) > MaxOutputBytes || strings.Count(f.Output, "\n") >= MaxOutputLines {
			t.Fatalf("output of %q not trimmed: %d bytes", f.Name, len(f.Output))
		}
	}
}

func TestParseJUnitFilesMerges(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"surefire.xml", "pytest.xml", "nested-phpunit.xml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "junit", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	got, err := ParseJUnitFiles(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	want := TestSummary{Tests: 9, Failures: 2, Errors: 1, Skipped: 2}
	if got.Tests != want.Tests || got.Failures != want.Failures || got.Errors != want.Errors || got.Skipped != want.Skipped {
		t.Fatalf("merged counts = %d/%d/%d/%d, want %d/%d/%d/%d", got.Tests, got.Failures, got.Errors, got.Skipped,
			want.Tests, want.Failures, want.Errors, want.Skipped)
	}
	var names []string
	for _, f := range got.Failed {
		names = append(names, f.Suite+"/"+f.Name)
	}
	if strings.Join(names, ",") != "com.example.CalculatorTest/dividesByZero,pytest/test_sub,Tests\\Unit\\UserTest/testDelete" {
		t.Fatalf("failed tests in merge order: %v", names)
	}
	if wantTime := 153*time.Millisecond + 3*time.Millisecond + 500*time.Millisecond; got.Time != wantTime {
		t.Fatalf("merged time %v, want %v", got.Time, wantTime)
	}
}

func TestParseJUnitFilesNamesTheBadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.xml")
	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(good, []byte(`<testsuite name="s"><testcase name="a"/></testsuite>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("<testsuite>\n<testcase>\n</testsuite>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseJUnitFiles(context.Background(), []string{good, bad})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v should name %s and line 3", err, bad)
	}
	_, err = ParseJUnitFiles(context.Background(), []string{filepath.Join(dir, "missing.xml")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: error %v, want os.ErrNotExist", err)
	}
}

func TestParseJUnitFilesCancelled(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.xml")
	if err := os.WriteFile(p, junitDoc(5000, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ParseJUnitFiles(ctx, []string{p}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestMergeJUnitCapsFailedList(t *testing.T) {
	a, err := ParseJUnit(bytes.NewReader(junitDoc(MaxFailedTests, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseJUnit(bytes.NewReader(junitDoc(10, 2)))
	if err != nil {
		t.Fatal(err)
	}
	m := MergeJUnit(a, nil, b)
	checkSummary(t, m)
	if len(m.Failed) != MaxFailedTests || m.FailedOmitted != 5 || m.Failures != MaxFailedTests+5 {
		t.Fatalf("merged: %d listed, %d omitted, %d failures", len(m.Failed), m.FailedOmitted, m.Failures)
	}
	if len(a.Failed) != MaxFailedTests || a.FailedOmitted != 0 {
		t.Fatal("MergeJUnit modified its input")
	}
}

func TestParseJUnitManyFailuresBoundedMemory(t *testing.T) {
	const n = 3 * MaxFailedTests
	s, err := ParseJUnit(bytes.NewReader(junitDoc(n, 1)))
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, s)
	if s.Tests != n || s.Failures != n || len(s.Failed) != MaxFailedTests || s.FailedOmitted != n-MaxFailedTests {
		t.Fatalf("got %d tests, %d failures, %d listed, %d omitted", s.Tests, s.Failures, len(s.Failed), s.FailedOmitted)
	}
}

func TestParseJUnitReadError(t *testing.T) {
	broken := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(`<testsuite name="s">`), errReader{broken})
	if _, err := ParseJUnit(r); !errors.Is(err, broken) {
		t.Fatalf("error %v, want the read error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestLatin1ReaderSmallBuffers(t *testing.T) {
	in := []byte("caf\xe9 cr\xe8me \xff")
	for size := 1; size < 6; size++ {
		var out []byte
		r := &latin1Reader{r: bytes.NewReader(in)}
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if string(out) != "café crème ÿ" {
			t.Fatalf("buffer %d: got %q", size, out)
		}
	}
}

// junitDoc makes a report of n cases; every every-th case fails.
func junitDoc(n, every int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<testsuites>\n<testsuite name=\"generated\">\n")
	for i := range n {
		if i%every == 0 {
			fmt.Fprintf(&b, "<testcase classname=\"pkg.Class%d\" name=\"test_%d\" time=\"0.010\"><failure message=\"expected %d\" type=\"AssertionError\">Traceback:\n  File \"t.py\", line %d\nAssertionError</failure><system-out>log line\n</system-out></testcase>\n", i%50, i, i, i)
		} else {
			fmt.Fprintf(&b, "<testcase classname=\"pkg.Class%d\" name=\"test_%d\" time=\"0.010\"/>\n", i%50, i)
		}
	}
	b.WriteString("</testsuite>\n</testsuites>\n")
	return b.Bytes()
}

func FuzzJUnit(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "junit", "*.xml"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add(junitDoc(5, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseJUnit(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "junit: ") {
				t.Fatalf("error %q is not a junit *ParseError", err)
			}
			return
		}
		checkSummary(t, s)
		double := MergeJUnit(s, s)
		checkSummary(t, double)
		if double.Tests != 2*s.Tests || double.Failures != 2*s.Failures || double.Skipped != 2*s.Skipped {
			t.Fatalf("merging a summary with itself: %+v from %+v", double, s)
		}
	})
}

func BenchmarkParseJUnit(b *testing.B) {
	doc := junitDoc(20000, 20)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		s, err := ParseJUnit(bytes.NewReader(doc))
		if err != nil || s.Tests != 20000 {
			b.Fatal(s, err)
		}
	}
}
