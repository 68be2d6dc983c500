package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The pipeline corpus in testdata/pipelines checks `gantry lint` and
// `gantry plan --json` end to end against what GitLab does. Each folder holds
// a .gitlab-ci.yml (and any files it includes), cases.json and the expected
// output in golden/: <case>.json is plan's standard output, <case>.err its
// standard error and exit code when either is not clean, lint.txt lint's
// output and exit code.
//
// Every case also carries a hand-written `expect` block: the facts GitLab's
// documentation fixes (which jobs, in which order, when, needs...). -update
// rewrites the goldens of the cases that meet their expectations and keeps
// the others, whose goldens were written by hand to say what GitLab does:
// regenerating never turns a known disagreement into the norm.

var update = flag.Bool("update", false, "rewrite the golden files of testdata/pipelines")

const corpusDir = "../../testdata/pipelines"

// corpusCase is one entry of a folder's cases.json.
type corpusCase struct {
	Name   string   `json:"name"`
	Args   []string `json:"args"`
	Lint   bool     `json:"lint"`
	Expect expect   `json:"expect"`
}

// expect holds what GitLab does for a case, written by hand from GitLab's
// documentation. Unset fields are not checked.
type expect struct {
	Created      *bool               `json:"created"`
	Name         *string             `json:"name"`
	Jobs         []string            `json:"jobs"`    // exact, in plan order
	Skipped      []string            `json:"skipped"` // exact set
	Stages       []string            `json:"stages"`
	When         map[string]string   `json:"when"`
	AllowFailure map[string]bool     `json:"allow_failure"`
	ExitCodes    map[string][]int    `json:"exit_codes"`
	Needs        map[string][]string `json:"needs"` // job -> needed instances, exact; null means stage order
	Dependencies map[string][]string `json:"dependencies"`
	StartIn      map[string]string   `json:"start_in"`
	NotExecuted  map[string][]string `json:"not_executed"` // job -> keywords, exact set
	Notices      []string            `json:"notices"`      // each a substring of some notice
	NoNotices    bool                `json:"no_notices"`
	Exit         *int                `json:"exit"`
	Valid        *bool               `json:"valid"`  // lint
	Errors       []string            `json:"errors"` // lint: each a substring of the output
}

// planOutput mirrors the JSON that plan --json prints.
type planOutput struct {
	Created bool     `json:"created"`
	Reason  string   `json:"reason"`
	Name    string   `json:"name"`
	Stages  []string `json:"stages"`
	Jobs    []struct {
		Name          string   `json:"name"`
		Stage         string   `json:"stage"`
		When          string   `json:"when"`
		StartIn       string   `json:"start_in"`
		AllowFailure  bool     `json:"allow_failure"`
		AllowExitCode []int    `json:"allow_failure_exit_codes"`
		Needs         []string `json:"needs"`
		Dependencies  []string `json:"dependencies"`
		NotExecuted   []struct {
			Keyword string `json:"keyword"`
		} `json:"not_executed"`
	} `json:"jobs"`
	Skipped []struct {
		Name string `json:"name"`
	} `json:"skipped"`
	Notices []string `json:"notices"`
}

func TestPipelineCorpus(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatalf("read corpus: %v", err)
	}
	count := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		count++
		src := filepath.Join(corpusDir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			cases := readCases(t, src)
			repo := makeRepo(t, src)
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					runCase(t, src, repo, c)
				})
			}
		})
	}
	if count < 60 {
		t.Errorf("the corpus holds %d pipelines; it should hold at least 60", count)
	}
}

func readCases(t *testing.T, dir string) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatalf("read cases: %v", err)
	}
	var cases []corpusCase
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("parse %s/cases.json: %v", dir, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s/cases.json has no case", dir)
	}
	return cases
}

// makeRepo copies a corpus folder (without its goldens and cases) into a
// fresh repository: an empty first commit, then one commit adding every
// file, so a push of HEAD changes exactly the folder's files. Names, emails
// and dates are fixed so that every run sees the same commits.
func makeRepo(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "golden" || rel == "cases.json" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "commit", "-q", "--allow-empty", "-m", "initial")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "Add the pipeline\n\nCorpus fixture.")
	return dir
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Corpus Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Corpus Committer", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func runCase(t *testing.T, src, repo string, c corpusCase) {
	file := filepath.Join(repo, ".gitlab-ci.yml")
	args := []string{"lint", file}
	if !c.Lint {
		args = append([]string{"plan", file, "--json"}, c.Args...)
	}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	clean := func(s string) string { return strings.ReplaceAll(s, repo+string(filepath.Separator), "") }
	out, errOut := clean(stdout.String()), clean(stderr.String())

	golden := filepath.Join(src, "golden")
	var problems []string
	if c.Lint {
		problems = checkLint(c.Expect, out+errOut, code)
	} else {
		problems = checkPlan(c.Expect, out, code)
	}
	for _, p := range problems {
		t.Error(p)
	}
	// A golden whose output contradicts GitLab was written by hand: -update
	// keeps it, so regenerating never turns a known bug into the norm.
	write := *update && len(problems) == 0
	if *update && !write {
		t.Logf("kept the hand-written golden: the output contradicts the case's expectations")
	}
	if c.Lint {
		compareGolden(t, filepath.Join(golden, "lint.txt"), out+errOut+fmt.Sprintf("exit %d\n", code), write)
		return
	}
	compareGolden(t, filepath.Join(golden, c.Name+".json"), out, write)
	errFile := filepath.Join(golden, c.Name+".err")
	if code != 0 || errOut != "" {
		compareGolden(t, errFile, errOut+fmt.Sprintf("exit %d\n", code), write)
	} else if _, err := os.Stat(errFile); err == nil {
		if write {
			_ = os.Remove(errFile)
		} else {
			t.Errorf("%s exists but the plan succeeded without messages", errFile)
		}
	}
}

func compareGolden(t *testing.T, path, got string, write bool) {
	t.Helper()
	if write {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output: %s", path, firstDifference(string(want), got))
	}
}

// checkLint returns how lint's verdict departs from GitLab's.
func checkLint(e expect, out string, code int) []string {
	var problems []string
	if e.Valid != nil {
		if wantCode := map[bool]int{true: 0, false: 1}[*e.Valid]; code != wantCode {
			problems = append(problems, fmt.Sprintf("lint exit %d, GitLab's verdict valid=%v wants exit %d\n%s", code, *e.Valid, wantCode, out))
		}
	}
	for _, s := range e.Errors {
		if !strings.Contains(out, s) {
			problems = append(problems, fmt.Sprintf("lint output lacks %q\n%s", s, out))
		}
	}
	return problems
}

// checkPlan returns how a plan departs from what GitLab does.
func checkPlan(e expect, out string, code int) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	wantExit := 0
	if e.Exit != nil {
		wantExit = *e.Exit
	}
	if code != wantExit {
		add("plan exit %d, want %d", code, wantExit)
	}
	if code != 0 {
		return problems
	}
	var p planOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		add("plan output is not JSON: %v\n%s", err, out)
		return problems
	}
	if e.Created != nil && p.Created != *e.Created {
		add("created = %v, want %v (%s)", p.Created, *e.Created, p.Reason)
	}
	if e.Name != nil && p.Name != *e.Name {
		add("pipeline name = %q, want %q", p.Name, *e.Name)
	}
	var names []string
	for _, j := range p.Jobs {
		names = append(names, j.Name)
	}
	if e.Jobs != nil && !slices.Equal(names, e.Jobs) {
		add("jobs = %q, want %q", names, e.Jobs)
	}
	if e.Stages != nil && !slices.Equal(p.Stages, e.Stages) {
		add("stages = %q, want %q", p.Stages, e.Stages)
	}
	if e.Skipped != nil {
		var got []string
		for _, s := range p.Skipped {
			got = append(got, s.Name)
		}
		sort.Strings(got)
		want := slices.Clone(e.Skipped)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			add("skipped = %q, want %q", got, want)
		}
	}
	find := func(name string) int {
		for i, j := range p.Jobs {
			if j.Name == name {
				return i
			}
		}
		add("expected job %q is not in the plan (jobs %q)", name, names)
		return -1
	}
	for name, w := range e.When {
		if i := find(name); i >= 0 && p.Jobs[i].When != w {
			add("%s: when = %q, want %q", name, p.Jobs[i].When, w)
		}
	}
	for name, af := range e.AllowFailure {
		if i := find(name); i >= 0 && p.Jobs[i].AllowFailure != af {
			add("%s: allow_failure = %v, want %v", name, p.Jobs[i].AllowFailure, af)
		}
	}
	for name, codes := range e.ExitCodes {
		if i := find(name); i >= 0 && !slices.Equal(p.Jobs[i].AllowExitCode, codes) {
			add("%s: allow_failure exit codes = %v, want %v", name, p.Jobs[i].AllowExitCode, codes)
		}
	}
	for name, needs := range e.Needs {
		if i := find(name); i >= 0 && !slices.Equal(p.Jobs[i].Needs, needs) {
			add("%s: needs = %q, want %q", name, p.Jobs[i].Needs, needs)
		}
	}
	for name, deps := range e.Dependencies {
		if i := find(name); i >= 0 && !slices.Equal(p.Jobs[i].Dependencies, deps) {
			add("%s: dependencies = %q, want %q", name, p.Jobs[i].Dependencies, deps)
		}
	}
	for name, s := range e.StartIn {
		if i := find(name); i >= 0 && p.Jobs[i].StartIn != s {
			add("%s: start_in = %q, want %q", name, p.Jobs[i].StartIn, s)
		}
	}
	for name, kws := range e.NotExecuted {
		if i := find(name); i >= 0 {
			var got []string
			for _, n := range p.Jobs[i].NotExecuted {
				got = append(got, n.Keyword)
			}
			sort.Strings(got)
			want := slices.Clone(kws)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				add("%s: not executed = %q, want %q", name, got, want)
			}
		}
	}
	for _, s := range e.Notices {
		if !slices.ContainsFunc(p.Notices, func(n string) bool { return strings.Contains(n, s) }) {
			add("no notice mentions %q (notices %q)", s, p.Notices)
		}
	}
	if e.NoNotices && len(p.Notices) > 0 {
		add("unexpected notices %q", p.Notices)
	}
	return problems
}

// firstDifference names the first line where two outputs part, which is
// what a reader needs to see; the whole output is one -update away.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || i >= len(w) || i >= len(g) {
			return fmt.Sprintf("line %d: want %q, got %q", i+1, wl, gl)
		}
	}
	return "they differ"
}
