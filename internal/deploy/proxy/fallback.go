package proxy

import (
	"io"
	"net/http"
)

// Fallback retries keep a failing canary's errors away from users during the second or
// so a guardrail needs to notice them: the canary's answer is still recorded as its own,
// so analysis judges it on what it really did, but the client gets the fallback
// revision's answer. Only the direct path's requests (body-less GET, HEAD, OPTIONS) are
// retried, because repeating them is safe; 501 is left alone, since another revision
// would not implement the method either.

// maxDiscard bounds how much of a replaced error body is read to keep its connection;
// a longer one costs the connection instead.
const maxDiscard = 64 << 10

// shouldFallBack reports whether the fallback revision answers instead of c's revision,
// which answered code.
func (p *Proxy) shouldFallBack(c *call, code int) bool {
	if code < 500 || code > 599 || code == http.StatusNotImplemented {
		return false
	}
	fb := c.t.fallback
	return fb != nil && fb != c.rt && c.from == nil && !c.t.headerMatch(c.hdr)
}

// fallBack records the server error c's revision answered, exactly as if the client had
// seen it, and moves c to a replica of the fallback revision; false when none accepts it.
// The fallback's own figures then time only its own answer.
func (p *Proxy) fallBack(c *call) bool {
	end := p.now()
	rev := c.rt.rev
	rev.win.recordAs(int64(end.Sub(p.start)), classOf(c.code), end.Sub(c.begin), true)
	rev.met.observe(c.code, end.Sub(c.begin))
	rev.met.fellBack()
	p.notify.done()
	c.ep.inflight.Add(-1)
	c.ep = nil
	c.from, c.rt = rev, c.t.fallback
	c.tried, c.n, c.code = 0, 0, 0
	c.begin = end
	return p.acquire(c)
}

// discard reads a replaced answer's body to the end, so that its connection can carry the
// next request; false when the body was too long or broke off.
func discard(resp *http.Response) bool {
	if resp.Body == http.NoBody {
		return true
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscard+1))
	return err == nil && n <= maxDiscard
}
