package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestID: whatever a client sends, the ID passed on is printable, bounded, and
// the client's own whenever that was acceptable.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc-123", "a b", strings.Repeat("x", 200), "ümlaut", "\x00", "0123456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	ids := newIDSource()
	f.Fuzz(func(t *testing.T, client string) {
		got := ids.requestID(client)
		if !validRequestID(got) {
			t.Fatalf("passed on an unfit ID %q", got)
		}
		if validRequestID(client) != (got == client) {
			t.Fatalf("client ID %q (fit: %v) became %q", client, validRequestID(client), got)
		}
	})
}

// FuzzRoutes: any table Validate accepts compiles into one that routes every request to
// a revision with endpoints, and the header route reaches its revision.
func FuzzRoutes(f *testing.F) {
	f.Add("v1", 90, "127.0.0.1:8080", "v2", 10, "[::1]:9", "canary", "true")
	f.Add("v1", 0, "localhost:1", "v2", 0, "x:2", "", "")
	f.Add("", -1, "::1", "v2", 1, "127.0.0.1:65536", "a b", "")
	f.Add("a", 1_000_000, "h:1", "b", 1, "h:2", "X-Canary", "1")
	f.Fuzz(func(t *testing.T, r1 string, w1 int, e1, r2 string, w2 int, e2, hname, hval string) {
		routes := Routes{Backends: []Backend{
			{Revision: r1, Weight: w1, Endpoints: []string{e1}},
			{Revision: r2, Weight: w2, Endpoints: []string{e2}},
		}}
		if hname != "" {
			routes.Header = &HeaderRoute{Name: hname, Value: hval, Revision: r2}
		}
		if routes.Validate() != nil {
			return
		}
		tb := compile(routes, func(a string) *endpoint { return &endpoint{addr: a} },
			func(n string) *revision { return &revision{name: n} })
		for range 50 {
			rt := tb.pick(nil)
			if rt == nil || rt.weight <= 0 || len(rt.eps) == 0 {
				t.Fatalf("ordinary request routed to %+v", rt)
			}
			if rt.pickEndpoint(0, 0) < 0 {
				t.Fatal("no endpoint for a fresh request")
			}
		}
		if routes.Header != nil {
			h := http.Header{}
			h.Set(hname, hval)
			if rt := tb.pick(h); rt == nil || rt.rev.name != r2 {
				t.Fatalf("header %s: %q did not reach %s", hname, hval, r2)
			}
		}
	})
}
