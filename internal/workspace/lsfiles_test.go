package workspace

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseStageEntries(f *testing.F) {
	f.Add([]byte("100644 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 0\ta.txt\x00160000 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 0\tsub\x00"))
	f.Add([]byte("100644 aaaa 1\tc.txt\x00100644 bbbb 2\tc.txt\x00100644 cccc 3\tc.txt\x00"))
	f.Add([]byte("100644 aaaa 0\t../escape\x00"))
	f.Add([]byte("100644 aaaa 0\t.git/config\x00"))
	f.Add([]byte("120000 aaaa 0\tdir/link\x00"))
	f.Add([]byte("garbage"))
	f.Add([]byte("999 aaaa 0\tx\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseStageEntries(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		var again strings.Builder
		for _, e := range entries {
			if err := checkRepoPath(e.path); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
			if seen[e.path] {
				t.Fatalf("path %q reported twice", e.path)
			}
			seen[e.path] = true
			again.WriteString(strconv.FormatUint(uint64(e.mode), 8) + " 0000 0" + "\t" + e.path + "\x00")
		}
		round, err := parseStageEntries([]byte(again.String()))
		if err != nil || !slices.Equal(round, entries) {
			t.Fatalf("round trip changed %v into %v (%v)", entries, round, err)
		}
	})
}

func FuzzParseOtherFiles(f *testing.F) {
	f.Add([]byte("notes.txt\x00nested/\x00dir/file\x00"))
	f.Add([]byte("/etc/passwd\x00"))
	f.Add([]byte("a/../../b\x00"))
	f.Add([]byte("x/.GIT/hooks/pre-commit\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		paths, err := parseOtherFiles(data)
		if err != nil {
			return
		}
		for _, p := range paths {
			if err := checkRepoPath(p); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
			if strings.HasSuffix(p, "/") {
				t.Fatalf("kept nested repository %q", p)
			}
		}
	})
}
