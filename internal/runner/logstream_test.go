package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/internal/runnerapi"
)

// newTestStream is a log stream of a queued job of s, sent by a real
// client over loopback HTTP.
func newTestStream(tb testing.TB, s *testServer, lost func()) (*logStream, *testJob) {
	tb.Helper()
	j := s.enqueue(&runnerapi.JobSpec{})
	c, err := NewClient(s.URL, s.token, nil)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := newLogStream(tb.TempDir(), c, j.spec.ID, slog.New(slog.DiscardHandler), lost)
	if err != nil {
		tb.Fatal(err)
	}
	return l, j
}

func TestLogStreamKeepsConcurrentWritesWhole(t *testing.T) {
	s := newTestServer(t)
	l, j := newTestStream(t, s, func() { t.Error("lease reported lost") })
	// stdout and stderr of a job write at once; each write must arrive
	// whole and every writer's writes in its order.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				fmt.Fprintf(l, "w%d-%05d\n", w, i)
			}
		})
	}
	wg.Wait()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for line := range bytes.SplitSeq(bytes.TrimSuffix([]byte(s.logOf(j)), []byte("\n")), []byte("\n")) {
		var w, i int
		if _, err := fmt.Sscanf(string(line), "w%d-%05d", &w, &i); err != nil {
			t.Fatalf("torn line %q", line)
		}
		key := fmt.Sprint(w)
		if i != next[key] {
			t.Fatalf("writer %d: line %d came after %d", w, i, next[key]-1)
		}
		next[key]++
	}
	for w := range 4 {
		if next[fmt.Sprint(w)] != 2000 {
			t.Errorf("writer %d: %d lines arrived", w, next[fmt.Sprint(w)])
		}
	}
}

func TestLogStreamStopsOnConflict(t *testing.T) {
	s := newTestServer(t)
	lost := make(chan struct{})
	l, j := newTestStream(t, s, func() { close(lost) })
	s.mu.Lock()
	j.result = &runnerapi.Result{Status: StatusCanceled}
	s.mu.Unlock()
	fmt.Fprintln(l, "anyone there?")
	<-lost // the next flush gets the 409
	if err := l.Close(context.Background()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Close = %v, want ErrLeaseLost", err)
	}
}

// BenchmarkLogStream measures how fast a chatty job's log reaches the
// server over loopback, written in 4 KiB pieces.
func BenchmarkLogStream(b *testing.B) {
	s := newTestServer(b)
	const size = 16 << 20
	chunk := bytes.Repeat([]byte("0123456789abcde\n"), 256)
	b.SetBytes(size)
	for b.Loop() {
		l, j := newTestStream(b, s, func() { b.Error("lease reported lost") })
		for written := 0; written < size; written += len(chunk) {
			if _, err := l.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		s.mu.Lock()
		if len(j.log) != size {
			b.Fatalf("server holds %d bytes, want %d", len(j.log), size)
		}
		j.log = nil
		s.mu.Unlock()
	}
}
