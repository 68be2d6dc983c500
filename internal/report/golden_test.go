package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// outcome is what a golden file records for one input: the parser's result
// and its error message, so that changes to either show up in review.
type outcome struct {
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// runGolden calls parse for every file matching dir/*ext and compares the
// outcome with the file's .golden twin.
func runGolden(t *testing.T, dir, ext string, parse func(t *testing.T, input []byte) (any, error)) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatalf("no inputs in testdata/%s", dir)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ext)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, perr := parse(t, data)
			o := outcome{Result: res}
			if perr != nil {
				o.Error = perr.Error()
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(o); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			goldenPath := strings.TrimSuffix(in, ext) + ".golden"
			if *update {
				if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", in, goldenPath, got, want)
			}
		})
	}
}
