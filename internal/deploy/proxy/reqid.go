package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// maxRequestID bounds what the proxy accepts from a client as a request ID; longer or
// unprintable IDs are replaced so they cannot bloat or corrupt logs and headers upstream.
const maxRequestID = 128

// idSource makes request IDs: a random per-proxy prefix and a counter. That is unique
// across restarts in practice and costs one small allocation, not a crypto read, per request.
type idSource struct {
	prefix [16]byte
	n      atomic.Uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	hex.Encode(s.prefix[:], b[:])
	return s
}

// next returns a 32-hex-digit ID.
func (s *idSource) next() string {
	var buf [32]byte
	copy(buf[:16], s.prefix[:])
	n := s.n.Add(1)
	const digits = "0123456789abcdef"
	for i := 31; i >= 16; i-- {
		buf[i] = digits[n&0xf]
		n >>= 4
	}
	return string(buf[:])
}

// requestID returns the client's ID when it is fit to pass on, or a fresh one.
func (s *idSource) requestID(client string) string {
	if validRequestID(client) {
		return client
	}
	return s.next()
}

// validRequestID accepts 1..maxRequestID visible ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
