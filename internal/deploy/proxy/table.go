package proxy

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// maxSchedule bounds the precomputed weighted round-robin cycle; longer cycles (weights
// such as 99999:1) fall back to computing each step under a lock.
const maxSchedule = 1 << 14

// endpoint is one replica. It outlives routing tables so that requests in flight to it
// can be counted across SetRoutes and waited for by Drain.
type endpoint struct {
	addr     string
	pool     connPool // keep-alive connections of the direct path
	inflight atomic.Int64
	// downUntil (proxy clock, nanoseconds) marks a replica that just refused a connection,
	// so the requests right behind do not each pay for a failed dial first.
	downUntil atomic.Int64
}

// route is one revision inside one routing table.
type route struct {
	rev    *revision
	weight int
	eps    []*endpoint
	rr     atomic.Uint32
}

// table is a compiled, immutable-by-construction Routes plus the round-robin cursors that
// belong to it; SetRoutes swaps whole tables.
type table struct {
	routes    []*route // weighted ones first, in Routes order
	weighted  int      // routes[:weighted] have weight > 0
	byAddr    map[string]*endpoint
	headerKey string // canonical header name, "" without a header route
	headerVal string
	headerTo  *route
	fallback  *route // answers for other revisions' server errors; nil when off

	// schedule is one full smooth weighted round-robin cycle when it is short enough;
	// next walks it, which keeps the split exact under concurrency without a lock.
	schedule []int32
	next     atomic.Uint64

	// Without a schedule, the classic smooth weighted round-robin state under mu.
	mu      sync.Mutex
	current []int64
	weights []int64
	total   int64
}

// compile builds a table for validated routes, reusing the endpoint and revision state
// that lookups return so that counters survive the swap.
func compile(r Routes, ep func(string) *endpoint, rev func(string) *revision) *table {
	t := &table{byAddr: make(map[string]*endpoint)}
	byName := make(map[string]*route, len(r.Backends))
	var zero []*route
	for _, b := range r.Backends {
		rt := &route{rev: rev(b.Revision), weight: b.Weight}
		for _, a := range b.Endpoints {
			e := ep(a)
			rt.eps = append(rt.eps, e)
			t.byAddr[a] = e
		}
		byName[b.Revision] = rt
		if b.Weight > 0 {
			t.routes = append(t.routes, rt)
			t.total += int64(b.Weight)
		} else {
			zero = append(zero, rt)
		}
	}
	t.weighted = len(t.routes)
	t.routes = append(t.routes, zero...)
	t.current = make([]int64, t.weighted)
	for _, rt := range t.routes[:t.weighted] {
		t.weights = append(t.weights, int64(rt.weight))
	}
	if h := r.Header; h != nil {
		t.headerKey = http.CanonicalHeaderKey(h.Name)
		t.headerVal = h.Value
		t.headerTo = byName[h.Revision]
	}
	if r.Fallback != "" {
		t.fallback = byName[r.Fallback]
	}
	t.buildSchedule()
	return t
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// buildSchedule precomputes one cycle of smooth weighted round-robin. Dividing by the
// weights' gcd gives the same interleaving in a shorter cycle.
func (t *table) buildSchedule() {
	if t.weighted == 0 {
		return
	}
	g := int64(0)
	for _, w := range t.weights {
		g = gcd(g, w)
	}
	cycle := t.total / g
	if cycle > maxSchedule {
		return
	}
	w := make([]int64, t.weighted)
	for i, wi := range t.weights {
		w[i] = wi / g
	}
	cur := make([]int64, t.weighted)
	t.schedule = make([]int32, cycle)
	for k := range t.schedule {
		t.schedule[k] = int32(swrrStep(cur, w, cycle))
	}
}

// swrrStep is one step of smooth weighted round-robin (as in nginx): every candidate gains
// its weight, the richest is chosen and pays the total. It spreads a revision's turns
// evenly over the cycle instead of bunching them.
func swrrStep(cur, w []int64, total int64) int {
	best := 0
	for i := range cur {
		cur[i] += w[i]
		if cur[i] > cur[best] {
			best = i
		}
	}
	cur[best] -= total
	return best
}

// pick chooses the revision for a request: the header route when it matches, otherwise
// the next weighted turn. It returns nil when nothing takes ordinary traffic.
func (t *table) pick(h http.Header) *route {
	if t.headerMatch(h) {
		return t.headerTo
	}
	switch {
	case t.weighted == 0:
		return nil
	case t.weighted == 1:
		return t.routes[0]
	case t.schedule != nil:
		n := t.next.Add(1) - 1
		return t.routes[t.schedule[n%uint64(len(t.schedule))]]
	}
	t.mu.Lock()
	i := swrrStep(t.current, t.weights, t.total)
	t.mu.Unlock()
	return t.routes[i]
}

// headerMatch reports whether the header route sends a request with header h to its revision.
func (t *table) headerMatch(h http.Header) bool {
	if t.headerTo == nil {
		return false
	}
	for _, v := range h[t.headerKey] {
		if v == t.headerVal {
			return true
		}
	}
	return false
}

// pickEndpoint chooses the replica with the fewest requests in flight, starting the scan
// at a rotating position so equal replicas take turns. Replicas already tried for this
// request (bit i of tried) are skipped; ones that recently refused a connection are used
// only when nothing else is left. It returns -1 when every replica was tried.
func (rt *route) pickEndpoint(tried uint64, now int64) int {
	n := len(rt.eps)
	if n == 1 {
		if tried&1 != 0 {
			return -1
		}
		return 0
	}
	start := int(rt.rr.Add(1) % uint32(n))
	best, bestDown := -1, -1
	var bestLoad, bestDownLoad int64
	for k := range n {
		i := start + k
		if i >= n {
			i -= n
		}
		if i < 64 && tried&(1<<uint(i)) != 0 {
			continue
		}
		e := rt.eps[i]
		load := e.inflight.Load()
		if e.downUntil.Load() > now {
			if bestDown < 0 || load < bestDownLoad {
				bestDown, bestDownLoad = i, load
			}
			continue
		}
		if best < 0 || load < bestLoad {
			best, bestLoad = i, load
		}
	}
	if best < 0 {
		return bestDown
	}
	return best
}
