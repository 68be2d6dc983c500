package mirror

import (
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:pa55word@git.example.com/a/b.git", "https://xxxxx@git.example.com/a/b.git"},
		{"https://ghp_tokenvalue@github.com/a/b.git", "https://xxxxx@github.com/a/b.git"},
		{"http://gantry-ci-token:abc@127.0.0.1:8080/git/app.git", "http://xxxxx@127.0.0.1:8080/git/app.git"},
		{"ssh://git@git.example.com/a/b.git", "ssh://git@git.example.com/a/b.git"},
		{"ssh://git:pw@git.example.com/a/b.git", "ssh://xxxxx@git.example.com/a/b.git"},
		{"git@git.example.com:a/b.git", "git@git.example.com:a/b.git"},
		{"https://git.example.com/a/b.git", "https://git.example.com/a/b.git"},
		{"/srv/repos/app", "/srv/repos/app"},
		{"fatal: unable to access 'https://u:p@h/r/': 403", "fatal: unable to access 'https://xxxxx@h/r/': 403"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedact: whatever git prints around the URL, no spelling of the
// password survives.
func FuzzRedact(f *testing.F) {
	f.Add("user", "hunter2pw", "fatal: unable to access '%s': 401")
	f.Add("gantry-ci-token", "p@ss:w/rd?", "error: %s and again %s")
	f.Add("", "tok3nvalue", "remote: password tok3nvalue rejected for %s")
	f.Fuzz(func(t *testing.T, user, pass, template string) {
		if len(pass) < 4 || strings.ContainsAny(pass, "x") || strings.ContainsAny(user, "\x00") {
			return
		}
		remote := "https://" + url.UserPassword(user, pass).String() + "@git.example.com/r.git"
		if _, err := url.Parse(remote); err != nil {
			return
		}
		text := strings.ReplaceAll(template, "%s", remote) + " " + pass
		got := newRedactor(remote).text(text)
		if strings.Contains(got, pass) {
			t.Fatalf("password %q survives in %q", pass, got)
		}
		encoded := url.UserPassword("", pass).String()[1:]
		if len(encoded) >= 4 && !strings.Contains(encoded, "x") && strings.Contains(got, encoded) {
			t.Fatalf("encoded password %q survives in %q", encoded, got)
		}
	})
}

// FuzzParseLsTree: a hostile repository's tree listing never yields a path
// outside the tree, a file with children, or an unsorted directory.
func FuzzParseLsTree(f *testing.F) {
	f.Add([]byte("100644 blob e69de29bb2d1d6434b8b29ae775ad8c2e48c5391       0\ta.txt\x00" +
		"040000 tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904       -\tdir\x00" +
		"120000 blob 1234567890123456789012345678901234567890       5\tdir/link\x00" +
		"160000 commit 1111111111111111111111111111111111111111       -\tsub\x00"))
	f.Add([]byte("100644 blob abc 3\t../escape\x00100644 blob abc 3\t/abs\x00100644 blob abc x\tbad\x00"))
	f.Add([]byte("100644 blob abc 3\tf\x00100644 blob abc 3\tf/g\x00040000 tree abc -\tf\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		index := parseLsTree(out)
		if root := index["."]; root == nil || !root.isDir() {
			t.Fatal("no root directory")
		}
		for p, n := range index {
			if !fs.ValidPath(p) {
				t.Fatalf("invalid path %q in index", p)
			}
			if !n.isDir() && len(n.children) > 0 {
				t.Fatalf("file %q has children", p)
			}
			if n.size < 0 {
				t.Fatalf("negative size for %q", p)
			}
			if p != "." {
				parent := index[path.Dir(p)]
				if parent == nil || !parent.isDir() {
					t.Fatalf("%q has no parent directory", p)
				}
			}
			if !sort.SliceIsSorted(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name }) {
				t.Fatalf("children of %q not sorted", p)
			}
		}
	})
}

// FuzzParseCommit: a commit message can hold anything, and the parser
// keeps it whole while the fixed fields stay intact.
func FuzzParseCommit(f *testing.F) {
	sha := strings.Repeat("a", 40)
	f.Add([]byte(sha+"\x00"+strings.Repeat("b", 40)+"\x00Ann <a@x>\x002024-01-02T03:04:05+01:00\x00msg\n\nbody\n\n"), "msg")
	f.Add([]byte("\x00\x00\x00\x00"), "")
	f.Add([]byte(sha+"\x00\x00A\x00not-a-date\x00m"), "m")
	f.Fuzz(func(t *testing.T, out []byte, msg string) {
		info, err := parseCommit(out)
		if err == nil && !isHexSHA(info.SHA) {
			t.Fatalf("accepted SHA %q", info.SHA)
		}
		if strings.HasSuffix(msg, "\n") {
			return
		}
		rec := sha + "\x00\x00Ann <a@x>\x002024-01-02T03:04:05Z\x00" + msg + "\n"
		info, err = parseCommit([]byte(rec))
		if err != nil || info.Message != msg || info.SHA != sha {
			t.Fatalf("parseCommit(%q) = %+v, %v", rec, info, err)
		}
	})
}

// FuzzSplitGitPath: no request path maps to a project that could leave
// the mirror root.
func FuzzSplitGitPath(f *testing.F) {
	for _, s := range []string{"/git/app.git/info/refs", "/git/group/app.git/git-upload-pack",
		"/git/../x.git/info/refs", "/git/a/../../b.git/HEAD", "/git/.git/x", "/git//a.git/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		project, _, ok := splitGitPath(p)
		if !ok {
			return
		}
		if project == "" || strings.HasPrefix(project, "/") || strings.Contains(project, "..") ||
			path.Clean(project) != project {
			t.Fatalf("splitGitPath(%q) accepted project %q", p, project)
		}
	})
}

// FuzzParseRefs: every parsed ref keeps its name and a non-empty SHA.
func FuzzParseRefs(f *testing.F) {
	f.Add([]byte("refs/heads/main\x00aaaa\x00\nrefs/tags/v1\x00bbbb\x00cccc\n"))
	f.Add([]byte("\x00\x00\n\nbroken\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		for ref, sha := range parseRefs(out) {
			if ref == "" || sha == "" || strings.ContainsAny(ref, "\x00\n") {
				t.Fatalf("parsed %q → %q", ref, sha)
			}
		}
	})
}
