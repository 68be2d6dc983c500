package spec

import (
	"os"
	"testing"
)

// BenchmarkParse measures parsing the design's example spec, which the
// controller does whenever the file changes.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("gantry.deploy.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
