package e2e

import (
	"strings"
	"testing"
)

// TestCacheSavedThenRestored checks the round trip a user relies on: the
// first run creates the cache, the second extracts it and the job sees
// the file the first run left.
func TestCacheSavedThenRestored(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
job:
  cache:
    key: deps
    paths: [vendor/]
  script:
    - if [ -f vendor/stamp ]; then echo "found $(cat vendor/stamp)"; else echo "cold"; fi
    - mkdir -p vendor && echo "from-run-$CI_PIPELINE_ID-$RANDOM" > vendor/stamp && cat vendor/stamp > /dev/null
`})
	first := r.mustRun(0, "run")
	lines := linesOf(first.stdout, "job")
	if !hasLine(lines, "cold") || !hasLinePrefix(lines, "Created cache") {
		t.Fatalf("first run should start cold and create the cache:\n%s", first.stdout)
	}
	if hasLine(lines, "Successfully extracted cache") {
		t.Errorf("first run claims to have extracted a cache:\n%s", first.stdout)
	}
	second := r.mustRun(0, "run")
	lines = linesOf(second.stdout, "job")
	if !hasLine(lines, "Successfully extracted cache") || !hasLinePrefix(lines, "found from-run-") {
		t.Errorf("second run should restore the cache and see vendor/stamp:\n%s", second.stdout)
	}
	if got := r.git("status", "--porcelain"); got != "" {
		t.Errorf("caching changed the working tree:\n%s", got)
	}
}

// TestCacheKeyFiles checks that key:files makes a new key when the file
// changes, and the same key while it does not.
func TestCacheKeyFiles(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		"deps.lock": "v1\n",
		".gitlab-ci.yml": `
job:
  cache:
    key:
      files: [deps.lock]
    paths: [out/]
  script:
    - ls out 2>/dev/null || echo "no out"
    - mkdir -p out && cp deps.lock out/lock-copy
`})
	first := r.mustRun(0, "run")
	if !hasLinePrefix(linesOf(first.stdout, "job"), "Created cache") {
		t.Fatalf("first run saved no cache:\n%s", first.stdout)
	}
	same := r.mustRun(0, "run")
	if !hasLine(linesOf(same.stdout, "job"), "Successfully extracted cache") {
		t.Errorf("unchanged key file: cache not restored:\n%s", same.stdout)
	}
	r.write("deps.lock", "v2\n")
	changed := r.mustRun(0, "run")
	lines := linesOf(changed.stdout, "job")
	if !hasLinePrefix(lines, "No cache found for") || !hasLine(lines, "no out") {
		t.Errorf("changed key file: a cache was still found:\n%s", changed.stdout)
	}
	keyOf := func(lines []string) string {
		for _, l := range lines {
			if k, ok := strings.CutPrefix(l, "Checking cache for "); ok {
				return strings.TrimSuffix(k, "...")
			}
		}
		return ""
	}
	if k1, k2 := keyOf(linesOf(first.stdout, "job")), keyOf(lines); k1 == "" || k1 == k2 {
		t.Errorf("cache keys before and after the change: %q and %q, want two different keys", k1, k2)
	}
}

// TestCacheFallbackKeys checks that a job whose own key has no cache yet
// extracts the one of its first fallback key that exists.
func TestCacheFallbackKeys(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [seed, use]
seed:
  stage: seed
  cache: {key: main-deps, paths: [deps/]}
  script: [mkdir -p deps, echo seeded > deps/marker]
use:
  stage: use
  cache:
    key: feature-deps
    paths: [deps/]
    fallback_keys: [missing-deps, main-deps]
  script: [cat deps/marker]
`})
	res := r.mustRun(0, "run")
	lines := linesOf(res.stdout, "use")
	if !hasLine(lines, "Successfully extracted cache from fallback key main-deps") || !hasLine(lines, "seeded") {
		t.Errorf("use did not restore the fallback cache:\n%s", res.stdout)
	}
	if !hasLinePrefix(lines, "Created cache feature-deps") {
		t.Errorf("use did not save its own key:\n%s", res.stdout)
	}
}

// TestCachePolicyPull checks that policy: pull restores but never saves,
// even when the job changed the cached files.
func TestCachePolicyPull(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [a, b, c]
seed:
  stage: a
  cache: {key: shared, paths: [c/]}
  script: [mkdir -p c, echo original > c/f]
reader:
  stage: b
  cache: {key: shared, paths: [c/], policy: pull}
  script: [cat c/f, echo changed-by-reader > c/f]
check:
  stage: c
  cache: {key: shared, paths: [c/], policy: pull}
  script: [cat c/f]
`})
	res := r.mustRun(0, "run")
	reader := linesOf(res.stdout, "reader")
	if !hasLine(reader, "original") {
		t.Errorf("reader did not get the cache:\n%s", res.stdout)
	}
	if hasLinePrefix(reader, "Created cache") {
		t.Errorf("a policy: pull job saved the cache:\n%s", res.stdout)
	}
	check := linesOf(res.stdout, "check")
	if !hasLine(check, "original") || hasLine(check, "changed-by-reader") {
		t.Errorf("check should see the seeded cache, not the reader's edit:\n%s", res.stdout)
	}
}

// TestCachePerProject checks that two projects using the same cache key
// (GitLab's "default", say) do not see each other's caches, as on GitLab
// where caches belong to a project.
func TestCachePerProject(t *testing.T) {
	t.Parallel()
	ci := `
job:
  cache: {paths: [c/]}
  script:
    - cat c/owner 2>/dev/null || echo "no cache"
    - mkdir -p c && echo "$CI_PROJECT_NAME-$MARK" > c/owner
`
	one := newRepo(t, map[string]string{".gitlab-ci.yml": ci})
	one.mustRun(0, "run", "--var", "MARK=one")
	two := newRepo(t, map[string]string{".gitlab-ci.yml": ci})
	two.sharedHome(one)
	res := two.mustRun(0, "run", "--var", "MARK=two")
	if lines := linesOf(res.stdout, "job"); !hasLine(lines, "no cache") {
		t.Errorf("a second project restored the first project's cache:\n%s", res.stdout)
	}
}

// TestConcurrentRuns starts two gantry runs in the same repository at
// once: each gets its own run folder and both pass, although they save the
// same cache key at the same time.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
job:
  cache: {key: shared, paths: [c/]}
  script:
    - mkdir -p c && head -c 200000 /dev/urandom > c/blob && echo "$RUN" > c/who
    - cat c/who
`})
	results := make(chan result, 2)
	for _, run := range []string{"one", "two"} {
		go func() { results <- r.runQuiet("run", "--var", "RUN="+run) }()
	}
	for range 2 {
		if res := <-results; res.code != 0 {
			t.Errorf("a concurrent run exited %d:\n%s%s", res.code, res.stdout, res.stderr)
		}
	}
	for n := 1; n <= 2; n++ {
		if log := r.jobLog(n, "job"); !strings.Contains(log, "Created cache shared") {
			t.Errorf("run %d did not save its cache:\n%s", n, log)
		}
	}
	third := r.mustRun(0, "run", "--var", "RUN=three")
	lines := linesOf(third.stdout, "job")
	if !hasLine(lines, "Successfully extracted cache") {
		t.Errorf("the cache saved by two runs at once cannot be read back:\n%s", third.stdout)
	}
}

// TestUnchangedCacheIsNotSavedAgain checks the layered restore: a job that
// leaves the cached paths alone does not re-save the cache, a job that
// changes them does, and the next run sees the change (in both workspace
// modes: copy mode extracts and always saves).
func TestUnchangedCacheIsNotSavedAgain(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		".gitlab-ci.yml": `
job:
  cache:
    key: deps
    paths: [vendor/]
  script:
    - mkdir -p vendor
    - 'if [ -f vendor/count ]; then echo "count $(cat vendor/count)"; else echo 0 > vendor/count; echo "count new"; fi'
    - 'if [ "$BUMP" = yes ]; then echo $(( $(cat vendor/count) + 1 )) > vendor/count; fi'
`})
	first := r.mustRun(0, "run")
	if lines := linesOf(first.stdout, "job"); !hasLine(lines, "count new") || !hasLinePrefix(lines, "Created cache") {
		t.Fatalf("first run creates the cache:\n%s", first.stdout)
	}
	second := r.mustRun(0, "run")
	lines := linesOf(second.stdout, "job")
	if !hasLine(lines, "count 0") {
		t.Fatalf("second run sees the cache:\n%s", second.stdout)
	}
	if !hasLine(lines, "Cache deps unchanged, not saved again") || hasLinePrefix(lines, "Created cache") {
		t.Errorf("an unchanged cache must not be saved again:\n%s", second.stdout)
	}
	third := r.mustRun(0, "run", "--var", "BUMP=yes")
	if lines := linesOf(third.stdout, "job"); !hasLine(lines, "count 0") || !hasLinePrefix(lines, "Created cache") {
		t.Errorf("a changed cache is saved:\n%s", third.stdout)
	}
	fourth := r.mustRun(0, "run")
	if lines := linesOf(fourth.stdout, "job"); !hasLine(lines, "count 1") {
		t.Errorf("the next run sees the change:\n%s", fourth.stdout)
	}
}
