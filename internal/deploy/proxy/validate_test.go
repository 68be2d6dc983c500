package proxy

import (
	"strings"
	"sync"
	"testing"
)

func TestValidateRoutes(t *testing.T) {
	ep := func(s ...string) []string { return s }
	tests := []struct {
		name   string
		routes Routes
		err    string // "" = valid
	}{
		{"empty table", Routes{}, ""},
		{"canary at weight 0 behind header", Routes{
			Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:8080")}, {Revision: "v2", Endpoints: ep("[::1]:8081")}},
			Header:   &HeaderRoute{Name: "canary", Value: "true", Revision: "v2"}}, ""},
		{"unnamed revision", Routes{Backends: []Backend{{Weight: 1, Endpoints: ep("127.0.0.1:1")}}}, "revision name is empty"},
		{"revision with space", Routes{Backends: []Backend{{Revision: "v 1", Weight: 1, Endpoints: ep("127.0.0.1:1")}}}, "printable ASCII"},
		{"duplicate revision", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:1")}, {Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:2")}}}, "appears twice"},
		{"negative weight", Routes{Backends: []Backend{{Revision: "v1", Weight: -1, Endpoints: ep("127.0.0.1:1")}}}, "outside 0.."},
		{"huge weight", Routes{Backends: []Backend{{Revision: "v1", Weight: maxWeight + 1, Endpoints: ep("127.0.0.1:1")}}}, "outside 0.."},
		{"all weights zero", Routes{Backends: []Backend{{Revision: "v1", Endpoints: ep("127.0.0.1:1")}}}, "every weight is 0"},
		{"no endpoints", Routes{Backends: []Backend{{Revision: "v1", Weight: 1}}}, "no endpoints"},
		{"no port", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1")}}}, "missing port"},
		{"port zero", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:0")}}}, "1..65535"},
		{"named port", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:http")}}}, "1..65535"},
		{"url instead of address", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("http://127.0.0.1:80")}}}, "endpoint"},
		{"empty host", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep(":80")}}}, "host is empty"},
		{"endpoint shared by revisions", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:1")}, {Revision: "v2", Weight: 1, Endpoints: ep("127.0.0.1:1")}}}, "already used"},
		{"header to unknown revision", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:1")}}, Header: &HeaderRoute{Name: "canary", Value: "1", Revision: "v9"}}, "not among the backends"},
		{"bad header name", Routes{Backends: []Backend{{Revision: "v1", Weight: 1, Endpoints: ep("127.0.0.1:1")}}, Header: &HeaderRoute{Name: "can ary", Value: "1", Revision: "v1"}}, "not a valid header name"},
	}
	p := New(Options{App: "web", Env: "prod"})
	defer p.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.SetRoutes(tc.routes)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("rejected a valid table: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// TestPickSplitsExactly drives the revision choice directly, concurrently, for short
// cycles (precomputed schedule) and long ones (locked smooth weighted round-robin).
func TestPickSplitsExactly(t *testing.T) {
	for _, w := range [][]int{{90, 10}, {1, 1}, {99, 1}, {3, 2, 5}, {999_983, 17}, {1, 0, 3}} {
		var b []Backend
		total := 0
		for i, wi := range w {
			b = append(b, Backend{Revision: string(rune('a' + i)), Weight: wi, Endpoints: []string{"127.0.0.1:" + string(rune('1'+i))}})
			total += wi
		}
		tb := compile(Routes{Backends: b}, func(a string) *endpoint { return &endpoint{addr: a} },
			func(n string) *revision { return &revision{name: n} })
		const n = 320_000
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[string]int{}
				for range n / 16 {
					local[tb.pick(nil).rev.name]++
				}
				mu.Lock()
				for k, v := range local {
					got[k] += v
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		for i, wi := range w {
			want := float64(n) * float64(wi) / float64(total)
			// Smooth weighted round-robin keeps every prefix of its sequence within a
			// turn or two of the exact share, and concurrent picks take a prefix.
			if d := float64(got[string(rune('a'+i))]) - want; d > float64(len(w)) || d < -float64(len(w)) {
				t.Errorf("weights %v: revision %c got %d, want %.0f", w, 'a'+i, got[string(rune('a'+i))], want)
			}
		}
	}
}

func TestPickEndpointPrefersIdleAndSkipsDown(t *testing.T) {
	rt := &route{eps: []*endpoint{{addr: "a"}, {addr: "b"}, {addr: "c"}}}
	rt.eps[0].inflight.Store(5)
	rt.eps[1].inflight.Store(1)
	rt.eps[2].inflight.Store(3)
	if i := rt.pickEndpoint(0, 0); i != 1 {
		t.Errorf("picked %d, want the least busy replica 1", i)
	}
	rt.eps[1].downUntil.Store(100)
	if i := rt.pickEndpoint(0, 50); i != 2 {
		t.Errorf("picked %d, want 2 while replica 1 is marked down", i)
	}
	if i := rt.pickEndpoint(1<<0|1<<2, 50); i != 1 {
		t.Errorf("picked %d, want the down replica 1 when it is the only one left", i)
	}
	if i := rt.pickEndpoint(7, 50); i != -1 {
		t.Errorf("picked %d with every replica tried, want -1", i)
	}
	// Equal replicas take turns.
	for _, e := range rt.eps {
		e.inflight.Store(0)
		e.downUntil.Store(0)
	}
	seen := map[int]int{}
	for range 300 {
		seen[rt.pickEndpoint(0, 0)]++
	}
	if seen[0] != 100 || seen[1] != 100 || seen[2] != 100 {
		t.Errorf("idle replicas picked %v times, want 100 each", seen)
	}
}
