package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// groupSize fine buckets make a group, which is merged once when it is complete, so that
// reading a whole window merges a few groups and the fine buckets at its two edges
// instead of every bucket (about 45 merges instead of 240 for the defaults).
const groupSize = 12

func newHist() *hdr.Histogram { return hdr.New(1, maxLatency.Microseconds(), histDigits) }

// bucket holds the requests that finished in one slot of the window. Each has its own
// lock, so a reader merging buckets holds up a request for one merge at most.
type bucket struct {
	mu     sync.Mutex
	slot   int64 // clock / width; -1 when unused
	counts [numCounts]int64
	hist   *hdr.Histogram // allocated on first use, reset on reuse
}

// group is the merge of groupSize consecutive buckets, built by the first read that needs
// it once no request can land in it any more.
type group struct {
	index  int64 // slot / groupSize; -1 when unbuilt
	counts [numCounts]int64
	hist   *hdr.Histogram
}

// window is a ring of buckets indexed by slot: old slots drop out just by being
// overwritten, and nothing is ever shifted.
type window struct {
	width   int64 // nanoseconds per bucket
	buckets []bucket
	first   atomic.Int64 // clock of the first request, -1 before it
	last    atomic.Int64 // clock of a recent request

	rmu    sync.Mutex // serialises readers, who build and use the groups
	groups []group
}

func newWindow(size, width time.Duration) *window {
	n := int((size+width-1)/width) + 2 // the partial bucket at each end
	w := &window{width: int64(width), buckets: make([]bucket, n), groups: make([]group, n/groupSize+2)}
	for i := range w.buckets {
		w.buckets[i].slot = -1
	}
	for i := range w.groups {
		w.groups[i].index = -1
	}
	w.first.Store(-1)
	return w
}

func (w *window) record(now int64, c class, d time.Duration) { w.recordAs(now, c, d, false) }

// recordAs records a request and, when fellBack, that the fallback revision answered for it.
func (w *window) recordAs(now int64, c class, d time.Duration, fellBack bool) {
	us := min(max(d.Microseconds(), 1), maxLatency.Microseconds())
	slot := now / w.width
	b := &w.buckets[slot%int64(len(w.buckets))]
	b.mu.Lock()
	if b.slot != slot {
		b.slot = slot
		b.counts = [numCounts]int64{}
		if b.hist != nil {
			b.hist.Reset()
		}
	}
	if b.hist == nil {
		b.hist = newHist()
	}
	b.counts[c]++
	if fellBack {
		b.counts[classFallback]++
	}
	_ = b.hist.RecordValue(us) // us is clamped into the histogram's range
	b.mu.Unlock()
	w.first.CompareAndSwap(-1, now)
	w.last.Store(now)
}

// read merges the buckets that end within d of now.
func (w *window) read(now int64, d time.Duration) Stats {
	s := Stats{hist: newHist()}
	first := w.first.Load()
	if first < 0 {
		return s
	}
	cur := now / w.width
	from := now - int64(d)
	lo := max(from/w.width, cur-int64(len(w.buckets))+1, 0)
	w.rmu.Lock()
	defer w.rmu.Unlock()
	oldest := int64(-1)
	for slot := lo; slot <= cur; {
		// A group is used whole when all of it is inside the range and its last bucket
		// is two slots back, past any request that read the clock just before a slot
		// ended and recorded just after.
		if g := slot / groupSize; slot == g*groupSize && (g+1)*groupSize-1 <= cur-2 {
			if w.addGroup(&s, g) && oldest < 0 {
				oldest = slot
			}
			slot += groupSize
			continue
		}
		if w.addBucket(&s, s.hist, slot) && oldest < 0 {
			oldest = slot
		}
		slot++
	}
	start := max(from, first)
	if oldest >= 0 {
		start = max(min(start, oldest*w.width), first)
	}
	s.Span = max(time.Duration(now-start), time.Duration(w.width))
	return s
}

// addBucket adds slot's bucket to s and merges its latencies into h; false when the
// bucket holds another slot (nothing recorded in this one).
func (w *window) addBucket(s *Stats, h *hdr.Histogram, slot int64) bool {
	b := &w.buckets[slot%int64(len(w.buckets))]
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.slot != slot {
		return false
	}
	for c, n := range b.counts {
		s.add(class(c), n)
	}
	h.Merge(b.hist)
	return true
}

// addGroup adds group g to s, building it first when needed; w.rmu is held.
func (w *window) addGroup(s *Stats, g int64) bool {
	gr := &w.groups[g%int64(len(w.groups))]
	if gr.index != g {
		gr.index = g
		gr.counts = [numCounts]int64{}
		if gr.hist == nil {
			gr.hist = newHist()
		} else {
			gr.hist.Reset()
		}
		var part Stats
		for slot := g * groupSize; slot < (g+1)*groupSize; slot++ {
			w.addBucket(&part, gr.hist, slot)
		}
		gr.counts = part.counts()
	}
	if gr.hist.TotalCount() == 0 {
		return false
	}
	for c, n := range gr.counts {
		s.add(class(c), n)
	}
	s.hist.Merge(gr.hist)
	return true
}

// idleSince reports the clock of a recent request, -1 when there was none.
func (w *window) idleSince() int64 {
	if w.first.Load() < 0 {
		return -1
	}
	return w.last.Load()
}
