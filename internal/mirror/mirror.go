// Package mirror keeps a bare mirror of a project's git repository on the
// server and reads pipeline files from it at exact commits.
//
// All git work goes through the system git, so every transport and
// credential helper the administrator configured for git works here too.
// The remote URL is handed to git through the environment rather than argv
// or the mirror's config file, so a password in it is neither visible in
// the process list nor written to disk, and every error is redacted.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNotFound is returned (wrapped) when a ref or commit is not in the
// mirror.
var ErrNotFound = errors.New("not found in mirror")

// DefaultMaxFileSize is the largest file FS reads when Mirror.MaxFileSize
// is zero. Pipeline files are small; a bigger blob is almost certainly not
// one and would only cost memory.
const DefaultMaxFileSize = 10 << 20

// fetchLockName is the file in the mirror that serialises fetches across
// processes.
const fetchLockName = "gantry-fetch.lock"

// Mirror is one project's bare mirror. Its methods are safe for concurrent
// use; fetches are serialised.
type Mirror struct {
	// MaxFileSize caps the size of one file read through FS; zero means
	// DefaultMaxFileSize. Set it before the mirror is shared.
	MaxFileSize int64

	dir    string
	remote string
	redact redactor

	fetchMu sync.Mutex
	pending map[string]RefChange // refs moved by FetchSHA, owed to Fetch

	blobs   *catFilePool
	commits *memo[CommitInfo]
	trees   *memo[map[string]*node] // parsed ls-tree by commit SHA; read-only once built
}

// Open opens the mirror in dir, creating a bare repository there if dir
// does not exist, and points it at remote (a local path, file://, http(s)://
// or ssh:// URL, or scp-like user@host:path). It does not fetch.
func Open(ctx context.Context, dir, remote string) (*Mirror, error) {
	red := newRedactor(remote)
	remote, err := normalizeRemote(remote)
	if err != nil {
		return nil, fmt.Errorf("open mirror in %s: %s", dir, red.text(err.Error()))
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open mirror in %s: %w", dir, err)
	}
	m := &Mirror{dir: dir, remote: remote, redact: red}
	m.blobs = newCatFilePool(dir)
	m.commits = newMemo[CommitInfo](256)
	m.trees = newMemo[map[string]*node](32)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := m.create(ctx); err != nil {
			return nil, fmt.Errorf("create mirror of %s in %s: %w", RedactURL(remote), dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("open mirror in %s: %w", dir, err)
	}
	if err := m.configure(ctx); err != nil {
		return nil, fmt.Errorf("open mirror of %s in %s: %w", RedactURL(remote), dir, err)
	}
	return m, nil
}

// create initialises the bare repository in a temporary folder beside dir
// and renames it into place, so that a second process opening the same
// mirror at the same time sees either nothing or a complete repository.
func (m *Mirror) create(ctx context.Context) error {
	parent := filepath.Dir(m.dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(m.dir)+".init-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fresh := &Mirror{dir: tmp, redact: m.redact}
	if _, err := fresh.run(ctx, false, "init", "--bare", "--quiet", tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, m.dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(m.dir, "HEAD")); statErr == nil {
			return nil // another process won the race; use its mirror
		}
		return err
	}
	return nil
}

// configure (re)writes the fetch settings of an existing mirror. The URL
// itself is stored only in redacted form, for people reading the config.
func (m *Mirror) configure(ctx context.Context) error {
	out, err := m.run(ctx, false, "rev-parse", "--is-bare-repository")
	if err != nil {
		return fmt.Errorf("not a git repository: %w", err)
	}
	if strings.TrimSpace(string(out)) != "true" {
		return errors.New("not a bare git repository")
	}
	steps := [][]string{
		{"config", "--unset-all", "remote.origin.url"},
		{"config", "--replace-all", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"},
		{"config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"},
		{"config", "remote.origin.prune", "true"},
		{"config", "remote.origin.tagOpt", "--no-tags"},
		{"config", "gc.autoDetach", "false"},
		{"config", "gantry.remote", RedactURL(m.remote)},
	}
	for _, args := range steps {
		_, err := m.run(ctx, false, args...)
		if err != nil && isLockError(err) {
			_, err = m.run(ctx, false, args...)
		}
		// --unset-all exits 5 when there was nothing to unset.
		if err != nil && !(args[1] == "--unset-all" && exitCode(err) == 5) {
			return fmt.Errorf("configure mirror: %w", err)
		}
	}
	return nil
}

// normalizeRemote checks remote and makes a local path absolute, since git
// would otherwise resolve it against the mirror's folder.
func normalizeRemote(remote string) (string, error) {
	switch {
	case remote == "":
		return "", errors.New("remote URL is empty")
	case strings.HasPrefix(remote, "-"):
		return "", fmt.Errorf("remote URL %q starts with a dash", remote)
	case strings.ContainsAny(remote, "\x00\n\r"):
		return "", fmt.Errorf("remote URL %q contains a control character", remote)
	case isHelperURL(remote):
		return "", fmt.Errorf("remote URL %q names a remote helper, which is not allowed", remote)
	}
	if strings.Contains(remote, "://") {
		return remote, nil
	}
	if colon := strings.Index(remote, ":"); colon > 0 && !strings.Contains(remote[:colon], "/") {
		return remote, nil // scp-like ssh: [user@]host:path
	}
	abs, err := filepath.Abs(remote)
	if err != nil {
		return "", fmt.Errorf("remote path %q: %w", remote, err)
	}
	return abs, nil
}

// isHelperURL reports git's "<transport>::<address>" syntax, which hands
// the address to an arbitrary remote helper program.
func isHelperURL(remote string) bool {
	i := strings.Index(remote, "::")
	return i > 0 && !strings.ContainsAny(remote[:i], "/:[@")
}

// Dir returns the mirror's folder, for git commands the caller runs itself
// and for serving it with HTTPHandler.
func (m *Mirror) Dir() string { return m.dir }

// Close stops the helper processes that FS readers share. The mirror stays
// usable; helpers start again on demand.
func (m *Mirror) Close() error {
	m.blobs.close()
	return nil
}

// DefaultBranch returns the branch the remote's HEAD pointed at when it was
// last fetched (e.g. "main"), for CI_DEFAULT_BRANCH.
func (m *Mirror) DefaultBranch(ctx context.Context) (string, error) {
	out, err := m.run(ctx, false, "symbolic-ref", "--quiet", "HEAD")
	if err != nil {
		return "", fmt.Errorf("read default branch: %w", err)
	}
	ref := strings.TrimSpace(string(out))
	if _, err := m.run(ctx, false, "rev-parse", "--verify", "--quiet", ref); err != nil {
		return "", fmt.Errorf("read default branch %s: %w", ref, ErrNotFound)
	}
	return strings.TrimPrefix(ref, "refs/heads/"), nil
}

func (m *Mirror) maxFileSize() int64 {
	if m.MaxFileSize > 0 {
		return m.MaxFileSize
	}
	return DefaultMaxFileSize
}
