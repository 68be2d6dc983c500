package mirror

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBatchProcs bounds the git cat-file processes reading for one mirror;
// readers beyond it wait for a free one rather than fork more.
const maxBatchProcs = 4

// batchIdleTimeout stops helpers nobody asked anything for a while, so a
// server with hundreds of quiet projects does not keep hundreds of gits.
const batchIdleTimeout = time.Minute

// catFilePool shares long-lived `git cat-file --batch` processes between
// FS readers. Starting git costs milliseconds; asking a running one for a
// blob costs microseconds.
type catFilePool struct {
	dir         string
	slot        chan struct{}
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*catFile // most recently used last
	closed bool
	reaper *time.Timer
}

// catFile is one batch process. It answers one request at a time.
type catFile struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Reader
	lastUsed time.Time
}

func newCatFilePool(dir string) *catFilePool {
	return &catFilePool{dir: dir, slot: make(chan struct{}, maxBatchProcs), idleTimeout: batchIdleTimeout}
}

// readBlob returns the blob oid, refusing one larger than limit before
// reading it.
func (p *catFilePool) readBlob(ctx context.Context, oid string, limit int64) ([]byte, error) {
	select {
	case p.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slot }()
	cf, err := p.get()
	if err != nil {
		return nil, err
	}
	data, err := cf.read(oid, limit)
	if err != nil {
		// The process may be mid-answer; never hand it to another reader.
		cf.kill()
		return nil, err
	}
	p.put(cf)
	return data, nil
}

func (p *catFilePool) get() (*catFile, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		cf := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return cf, nil
	}
	p.closed = false // a closed pool restarts on demand
	p.mu.Unlock()
	return startCatFile(p.dir)
}

func (p *catFilePool) put(cf *catFile) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		cf.kill()
		return
	}
	cf.lastUsed = time.Now()
	p.idle = append(p.idle, cf)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTimeout, p.reap)
	}
}

// reap stops the helpers idle for longer than idleTimeout and re-arms
// itself while any remain.
func (p *catFilePool) reap() {
	p.mu.Lock()
	p.reaper = nil
	cutoff := time.Now().Add(-p.idleTimeout)
	var stale []*catFile
	keep := p.idle[:0]
	for _, cf := range p.idle {
		if cf.lastUsed.Before(cutoff) {
			stale = append(stale, cf)
		} else {
			keep = append(keep, cf)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if len(keep) > 0 {
		p.reaper = time.AfterFunc(time.Until(keep[0].lastUsed.Add(p.idleTimeout)), p.reap)
	}
	p.mu.Unlock()
	for _, cf := range stale {
		cf.stop()
	}
}

// idleCount is the number of helpers waiting for work.
func (p *catFilePool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// close stops the idle processes; busy ones stop when their read ends.
func (p *catFilePool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, cf := range idle {
		cf.stop()
	}
}

func startCatFile(dir string) (*catFile, error) {
	// Not CommandContext: the process outlives the request that started
	// it and is stopped by the pool.
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	detach(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	return &catFile{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10)}, nil
}

// ErrFileTooLarge is returned (wrapped) when FS is asked for a file over
// the mirror's MaxFileSize.
var ErrFileTooLarge = errors.New("file too large")

// read asks for one object: "<oid>\n" answers "<oid> <type> <size>\n",
// the content and "\n", or "<oid> missing\n".
func (cf *catFile) read(oid string, limit int64) ([]byte, error) {
	if _, err := io.WriteString(cf.in, oid+"\n"); err != nil {
		return nil, fmt.Errorf("ask git cat-file for %s: %w", oid, err)
	}
	header, err := cf.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read git cat-file answer for %s: %w", oid, err)
	}
	typ, size, err := parseBatchHeader(header)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", oid, err)
	}
	if typ != "blob" {
		return nil, fmt.Errorf("read %s: object is a %s, not a file", oid, typ)
	}
	if size > limit {
		return nil, fmt.Errorf("read %s: %w (%d bytes, limit %d)", oid, ErrFileTooLarge, size, limit)
	}
	data := make([]byte, size+1)
	if _, err := io.ReadFull(cf.out, data); err != nil {
		return nil, fmt.Errorf("read %s: %w", oid, err)
	}
	if data[size] != '\n' {
		return nil, fmt.Errorf("read %s: git cat-file answer out of step", oid)
	}
	return data[:size], nil
}

// parseBatchHeader reads "<oid> <type> <size>\n" or "<oid> missing\n".
func parseBatchHeader(line string) (typ string, size int64, err error) {
	f := strings.Fields(line)
	if len(f) == 2 && f[1] == "missing" {
		return "", 0, ErrNotFound
	}
	if len(f) != 3 {
		return "", 0, fmt.Errorf("unexpected git cat-file answer %q", strings.TrimSpace(line))
	}
	size, err = strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("unexpected git cat-file size %q", f[2])
	}
	return f[1], size, nil
}

// stop ends the process politely: closing stdin makes git exit.
func (cf *catFile) stop() {
	_ = cf.in.Close()
	_ = cf.cmd.Wait()
}

// kill ends a process that may be in the middle of an answer.
func (cf *catFile) kill() {
	_ = cf.cmd.Process.Kill()
	_ = cf.in.Close()
	_ = cf.cmd.Wait()
}
