package blob_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkAppend measures one synced log chunk, the cost a runner pays
// per trace update.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{256, 16 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := newFS(b, b.TempDir())
			p := bytes.Repeat([]byte("x"), size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := s.Append(b.Context(), "logs/1.log", p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPut measures storing a 4 MiB artifact (staging, sync, rename).
func BenchmarkPut(b *testing.B) {
	s := newFS(b, b.TempDir())
	data := bytes.Repeat([]byte("artifact"), 512<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.Put(b.Context(), "artifacts/1/archive.zip", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetFromOffset measures serving a log tail from a byte offset,
// what the UI does while it follows a running job.
func BenchmarkGetFromOffset(b *testing.B) {
	s := newFS(b, b.TempDir())
	if _, err := s.Put(b.Context(), "logs/1.log", bytes.NewReader(bytes.Repeat([]byte("line of log output\n"), 50000))); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	for b.Loop() {
		r, size, err := s.Get(b.Context(), "logs/1.log")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Seek(size-4096, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
