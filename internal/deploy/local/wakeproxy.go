package local

import (
	"io"
	"net"
	"sync"
)

// wakeProxy is the front door of a listener replica. It forwards each
// connection to the port the guest listens on and signals the guest's
// pollState whenever it moves bytes in either direction, which is the
// only way the host learns that a guest socket became ready (see
// pollState). The extra loopback hop costs far less than the polling it
// saves.
type wakeProxy struct {
	ln     net.Listener
	target string
	st     *pollState

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newWakeProxy listens on a kernel-chosen loopback port.
func newWakeProxy(target string, st *pollState) (*wakeProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &wakeProxy{ln: ln, target: target, st: st, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *wakeProxy) addr() string { return p.ln.Addr().String() }

func (p *wakeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// forward joins client to a new connection to the guest until both
// directions are done.
func (p *wakeProxy) forward(client net.Conn) {
	guest, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.st.signal() // a connection waits in the guest's accept queue
	if !p.track(client, guest) {
		return
	}
	defer p.untrack(client, guest)
	w := &wakeConn{Conn: guest, st: p.st}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(w, client)
		closeWrite(guest)
		p.st.signal()
	})
	_, _ = io.Copy(client, w)
	closeWrite(client)
	wg.Wait()
}

// track registers the pair so close can cut it; false if already closed.
func (p *wakeProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *wakeProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.st.signal() // the guest sees its end close
}

// close stops accepting, cuts every connection and waits for the
// forwarding goroutines.
func (p *wakeProxy) close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// closeWrite half-closes c so the peer reads EOF but can still answer.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// wakeConn signals after every read and write on the guest connection:
// a write leaves bytes for the guest to read, a read frees room for the
// guest to write.
type wakeConn struct {
	net.Conn
	st *pollState
}

func (c *wakeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.st.signal()
	return n, err
}

func (c *wakeConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.st.signal()
	return n, err
}
