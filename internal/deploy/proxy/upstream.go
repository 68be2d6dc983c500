package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// Idle keep-alive connections per replica for the direct path. Under load every missing
// one is a dial and a TIME_WAIT socket on loopback; idle ones cost a file descriptor.
const (
	maxIdlePerEndpoint = 1024
	idleTimeout        = 90 * time.Second
	dialTimeout        = 5 * time.Second
	upstreamBufSize    = 8 << 10
)

// upstreamConn is a keep-alive HTTP/1.1 connection to a replica with its buffers, which
// are kept with the connection so a reused one allocates nothing.
type upstreamConn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

// connPool is a replica's idle connections, most recently used first out: the warmest
// connection is reused and the cold tail ages out.
type connPool struct {
	mu      sync.Mutex
	idle    []*upstreamConn
	retired bool // the replica left the routes: connections coming back are closed
}

// get returns an idle connection (reused=true) or dials a new one.
func (cp *connPool) get(ctx context.Context, addr string, now time.Time) (c *upstreamConn, reused bool, err error) {
	cp.mu.Lock()
	for n := len(cp.idle); n > 0; n = len(cp.idle) {
		c = cp.idle[n-1]
		cp.idle[n-1] = nil
		cp.idle = cp.idle[:n-1]
		if now.Sub(c.idleAt) < idleTimeout {
			cp.mu.Unlock()
			return c, true, nil
		}
		_ = c.nc.Close()
	}
	cp.mu.Unlock()
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &upstreamConn{nc: nc, br: bufio.NewReaderSize(nc, upstreamBufSize), bw: bufio.NewWriterSize(nc, upstreamBufSize)}, false, nil
}

// put returns a connection whose last response was read to the end.
func (cp *connPool) put(c *upstreamConn, now time.Time) {
	c.idleAt = now
	cp.mu.Lock()
	if !cp.retired && len(cp.idle) < maxIdlePerEndpoint {
		cp.idle = append(cp.idle, c)
		c = nil
	}
	cp.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

// retire closes the idle connections of a replica that left the routes, and those its
// last requests hand back later.
func (cp *connPool) retire() { cp.closeIdleAnd(func() { cp.retired = true }) }

// reopen takes back a replica that returned to the routes.
func (cp *connPool) reopen() { cp.closeIdleAnd(func() { cp.retired = false }) }

// closeIdle closes every idle connection, for a replica that seems to have restarted.
func (cp *connPool) closeIdle() { cp.closeIdleAnd(func() {}) }

// closeIdleAnd empties the pool and applies change under the same lock, so no connection
// slips back in between.
func (cp *connPool) closeIdleAnd(change func()) {
	cp.mu.Lock()
	change()
	idle := cp.idle
	cp.idle = nil
	cp.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}
