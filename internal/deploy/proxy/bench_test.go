package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkProxy and BenchmarkDirect send the same small GETs in parallel, through the
// proxy and straight to the replica; the difference is what the proxy costs per request.
//
//	go test -run XXX -bench 'Proxy|Direct' -benchmem ./internal/deploy/proxy/
func BenchmarkProxy(b *testing.B) {
	be1, be2 := startBackend(b, "v1"), startBackend(b, "v2")
	p, url := startProxy(b, Options{App: "web", Env: "bench"})
	mustSetRoutes(b, p, Routes{Backends: []Backend{
		{Revision: "v1", Weight: 90, Endpoints: []string{be1.addr}},
		{Revision: "v2", Weight: 10, Endpoints: []string{be2.addr}},
	}})
	benchGet(b, url)
}

func BenchmarkDirect(b *testing.B) {
	be := startBackend(b, "v1")
	benchGet(b, "http://"+be.addr)
}

func benchGet(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkWindow reads a full 60s window whose every bucket saw traffic: the cost of one
// guardrail evaluation.
func BenchmarkWindow(b *testing.B) {
	w := newWindow(DefaultWindow, DefaultBucket)
	width := int64(DefaultBucket)
	for slot := range int64(240) {
		for i := range int64(100) {
			w.record(slot*width, class2xx, time.Duration(100+i*i*50)*time.Microsecond)
		}
	}
	now := 240 * width
	b.ReportAllocs()
	for b.Loop() {
		if s := w.read(now, DefaultWindow); s.Requests == 0 {
			b.Fatal("empty window")
		}
	}
}

// BenchmarkRecord is the per-request cost of keeping the figures.
func BenchmarkRecord(b *testing.B) {
	w := newWindow(DefaultWindow, DefaultBucket)
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		w.record(i*1000, class2xx, time.Duration(i%5000)*time.Microsecond)
	}
}
