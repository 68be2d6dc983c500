package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Log streaming: GitLab's runner sends its trace in increments as the job
// runs; so does this one.
const (
	// flushSize sends at once when this much is waiting.
	flushSize = 64 << 10
	// flushEvery sends whatever is waiting this often.
	flushEvery = 200 * time.Millisecond
	// maxChunk bounds one request's body.
	maxChunk = 1 << 20
)

// errLogDiverged means the server's log is not a prefix of this one: there
// is no offset to resume from.
var errLogDiverged = errors.New("job log diverged")

// logSender is the part of Client a logStream uses.
type logSender interface {
	AppendLog(ctx context.Context, id, offset int64, data []byte) (int64, error)
}

// logStream is the (already masked) log of one job on its way to the
// server. Every byte is first appended to a local file, so that whatever
// offset the server asks to resume from (it lost a write, or stored one
// whose answer was lost) can be sent again; one goroutine sends, in order,
// so bytes are never lost or reordered. Writes never wait for the network.
type logStream struct {
	send   logSender
	id     int64
	logger *slog.Logger
	// lost is called once when the server answers 409: the job is no
	// longer this runner's.
	lost func()

	file *os.File

	mu      sync.Mutex
	written int64 // bytes in file
	hint    int64 // what the sender had sent when it last looked
	closing bool

	wake   chan struct{} // cap 1: something to send now
	quit   chan struct{} // closed by Close: send the rest and stop
	done   chan struct{} // closed when the sender has stopped
	cancel context.CancelFunc

	// Owned by the sender goroutine until done is closed.
	sent    int64
	stopped error // why the sender gave up, if it did
}

func newLogStream(dir string, send logSender, id int64, logger *slog.Logger, lost func()) (*logStream, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf("job-%d-*.log", id))
	if err != nil {
		return nil, fmt.Errorf("create log file of job %d: %w", id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &logStream{
		send: send, id: id, logger: logger, lost: lost, file: f,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), cancel: cancel,
	}
	go l.run(ctx)
	return l, nil
}

// Write appends p to the log. It fails only when the local file does.
func (l *logStream) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return 0, errors.New("write to a closed job log")
	}
	n, err := l.file.WriteAt(p, l.written)
	l.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("keep job log: %w", err)
	}
	if l.written-l.hint >= flushSize {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

func (l *logStream) size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written
}

func (l *logStream) run(ctx context.Context) {
	defer close(l.done)
	defer l.cancel()
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	buf := make([]byte, maxChunk)
	for {
		select {
		case <-l.wake:
		case <-tick.C:
		case <-l.quit:
		}
		final := false
		select {
		case <-l.quit:
			final = true
		default:
		}
		if err := l.flush(ctx, buf); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				l.stopped = err
				l.lost()
				return
			}
			if final || errors.Is(err, errLogDiverged) {
				l.stopped = err
				return
			}
			// The client has retried already; try again on the next tick
			// with nothing lost, since the bytes are in the file.
			l.logger.Warn("sending job log", "job", l.id, "err", err)
			continue
		}
		if final {
			return
		}
	}
}

// flush sends everything written so far.
func (l *logStream) flush(ctx context.Context, buf []byte) error {
	resends := 0
	for {
		end := l.size()
		if l.sent >= end {
			return nil
		}
		n := min(end-l.sent, int64(len(buf)))
		if _, err := l.file.ReadAt(buf[:n], l.sent); err != nil {
			return fmt.Errorf("read job log: %w", err)
		}
		size, err := l.send.AppendLog(ctx, l.id, l.sent, buf[:n])
		if err != nil {
			return err
		}
		switch {
		case size > end:
			return fmt.Errorf("%w: the server holds %d bytes of the log of job %d, more than its %d", errLogDiverged, size, l.id, end)
		case size != l.sent+n:
			// A 416: the server lost bytes or kept some whose answer was
			// lost. Resend from its size, but not forever.
			if resends++; resends > 10 {
				l.sent = size
				return fmt.Errorf("server keeps asking for the log of job %d from another offset (now %d)", l.id, size)
			}
		}
		l.sent = size
		l.setHint(size)
	}
}

func (l *logStream) setHint(v int64) {
	l.mu.Lock()
	l.hint = v
	l.mu.Unlock()
}

// Close sends the rest of the log, waiting until the server holds all of
// it or ctx ends, and removes the local copy. After a 409 it only tidies.
func (l *logStream) Close(ctx context.Context) error {
	l.mu.Lock()
	already := l.closing
	l.closing = true
	l.mu.Unlock()
	if !already {
		close(l.quit)
	}
	var err error
	select {
	case <-l.done:
		err = l.stopped
	case <-ctx.Done():
		l.cancel()
		err = fmt.Errorf("send the rest of the log of job %d: %w", l.id, context.Cause(ctx))
	}
	if already {
		return err
	}
	// The sender may still be reading the file when ctx ended; unlinking
	// an open file is harmless, closing it is not, so close only once the
	// sender has stopped.
	os.Remove(l.file.Name())
	go func() {
		<-l.done
		l.file.Close()
	}()
	return err
}
