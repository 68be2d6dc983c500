package proxy

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds with two significant digits (1% resolution),
// which keeps a bucket's histogram near 20 KB; anything slower than maxLatency counts as
// maxLatency.
const (
	maxLatency = 60 * time.Second
	histDigits = 2
)

// class is what happened to a request, as the figures count it.
type class uint8

const (
	class2xx class = iota
	class3xx
	class4xx
	class5xx
	classProxyError
	classCanceled
	classOther // 1xx finals or nonsense codes from a replica
	numClasses
)

// classFallback is a count kept beside the classes rather than one of them: a server
// error the fallback revision answered for instead, already counted as class5xx.
const (
	classFallback = numClasses
	numCounts     = numClasses + 1
)

func classOf(code int) class {
	switch code / 100 {
	case 2:
		return class2xx
	case 3:
		return class3xx
	case 4:
		return class4xx
	case 5:
		return class5xx
	}
	return classOther
}

// Stats are one revision's figures over a stretch of the sliding window.
type Stats struct {
	// Revision is the revision the figures are for.
	Revision string
	// Span is the time the figures cover: the window asked for, or less when the revision
	// has not been seen that long.
	Span time.Duration
	// Requests counts every finished request, whatever its outcome.
	Requests int64
	// Status2xx..Status5xx count responses from the replicas by status class.
	Status2xx, Status3xx, Status4xx, Status5xx int64
	// ProxyErrors counts requests the proxy answered with 502 because no replica of the
	// revision could be reached or the replica failed mid-response.
	ProxyErrors int64
	// Canceled counts requests the client gave up on first; they are not errors of the
	// revision but still show in the latencies.
	Canceled int64
	// Errors5xx is Status5xx plus ProxyErrors: every request a client saw fail on the
	// server side.
	Errors5xx int64
	// Fallbacks counts the revision's server errors that the client never saw because
	// Routes.Fallback answered instead; they are included in Status5xx.
	Fallbacks int64

	hist *hdr.Histogram
}

// ErrorRate is the share of requests that failed on the server side, 0 without requests.
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors5xx) / float64(s.Requests)
}

// Quantile returns the latency below which the fraction q (0..1) of the requests
// finished, read from the histogram merged over the span, 0 without requests.
func (s Stats) Quantile(q float64) time.Duration {
	if s.hist == nil || s.hist.TotalCount() == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	return time.Duration(s.hist.ValueAtQuantile(q*100)) * time.Microsecond
}

// RequestRate is requests per second over the span.
func (s Stats) RequestRate() float64 {
	if s.Span <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Span.Seconds()
}

func (s *Stats) add(c class, n int64) {
	if c == classFallback {
		s.Fallbacks += n
		return
	}
	s.Requests += n
	switch c {
	case class2xx:
		s.Status2xx += n
	case class3xx:
		s.Status3xx += n
	case class4xx:
		s.Status4xx += n
	case class5xx:
		s.Status5xx += n
		s.Errors5xx += n
	case classProxyError:
		s.ProxyErrors += n
		s.Errors5xx += n
	case classCanceled:
		s.Canceled += n
	}
}

// counts turns the figures back into per-class counts, to store a merged group.
func (s *Stats) counts() (c [numCounts]int64) {
	c[class2xx], c[class3xx], c[class4xx], c[class5xx] = s.Status2xx, s.Status3xx, s.Status4xx, s.Status5xx
	c[classProxyError], c[classCanceled] = s.ProxyErrors, s.Canceled
	c[classFallback] = s.Fallbacks
	c[classOther] = s.Requests - s.Status2xx - s.Status3xx - s.Status4xx - s.Status5xx - s.ProxyErrors - s.Canceled
	return c
}
