package secret_test

import (
	"bytes"
	"testing"
)

func BenchmarkSealOpen(b *testing.B) {
	box := newBox(b, 1)
	pt := bytes.Repeat([]byte("x"), 256)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		s, err := box.Seal(pt, "project/7/variable/TOKEN")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := box.Open(s, "project/7/variable/TOKEN"); err != nil {
			b.Fatal(err)
		}
	}
}
