package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/deploy"
)

// BenchmarkGuardRollback is the seed's promise measured end to end: a
// canary at 20% starts answering 500s under an open-loop load of rps
// requests per second; reported are the time from the canary's first 500
// (seen by the load, or answered for by the proxy's fallback) to the last
// answer the canary gave (cut-ms), the requests that failed for the client
// in between (failed) and their share of all requests sent in that time
// (failed-%). The default guardrail decides (error_rate > 0.05 over
// 2s with at least 20 requests). Run with -benchtime=1x; each iteration
// deploys a failing canary over a healthy stable revision.
func BenchmarkGuardRollback(b *testing.B) {
	for _, rps := range []int{100, 1000} {
		b.Run(fmt.Sprintf("rps=%d", rps), func(b *testing.B) {
			h := &harness{t: b, dir: b.TempDir(), project: "demo"}
			h.start()
			k := h.key("api", "production")
			spec := processSpec(b, "api", 2, fmt.Sprintf("  production:\n    listen: %s\n    strategy: {canary: {steps: [{setWeight: 20}, {pause: {}}]}}\n", freeAddr(b)))
			ctx := context.Background()
			deployV := func(v string, set map[string]string) {
				if _, err := h.c.Deploy(ctx, deploy.DeployRequest{Project: h.project, SpecYAML: []byte(spec), Env: "production", Version: v, Set: set}); err != nil {
					b.Fatal(err)
				}
			}
			deployV("v1", nil)
			waitBench(b, h, k, func(s *deploy.Status) bool { return s.Phase == "Healthy" })
			st, _ := h.c.Status(ctx, k)
			var cutTotal time.Duration
			var failedTotal, sentTotal int
			b.ResetTimer()
			for i := range b.N {
				canary := fmt.Sprint(i + 2)
				l := openLoad(st.URL, canary, rps)
				deployV(fmt.Sprintf("bad%d", i), map[string]string{"FAIL": "1"})
				waitBench(b, h, k, func(s *deploy.Status) bool { return s.Phase == "Degraded" })
				time.Sleep(200 * time.Millisecond) // answers in flight land
				cut, failed, sent := l.stop()
				cutTotal += cut
				failedTotal += failed
				sentTotal += sent
			}
			b.StopTimer()
			b.ReportMetric(float64(cutTotal.Milliseconds())/float64(b.N), "cut-ms")
			b.ReportMetric(float64(failedTotal)/float64(b.N), "failed")
			if sentTotal > 0 {
				b.ReportMetric(100*float64(failedTotal)/float64(sentTotal), "failed-%")
			}
			h.stop()
		})
	}
}

// openLoad sends rps requests per second whatever the answers' latency
// (open loop, at most 256 in flight), and notes the first 500 and the
// last answer from the canary revision.
type openLoadGen struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	answers []answer
}

type answer struct {
	at     time.Time
	failed bool
	canary bool
	// fellBack: the canary failed but the proxy's fallback answered for it.
	fellBack bool
}

func openLoad(url, canary string, rps int) *openLoadGen {
	ctx, cancel := context.WithCancel(context.Background())
	l := &openLoadGen{cancel: cancel}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	sem := make(chan struct{}, 256)
	l.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rps))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				continue // saturated: the figure would be the client's
			}
			l.wg.Go(func() {
				defer func() { <-sem }()
				resp, err := c.Get(url)
				a := answer{at: time.Now(), failed: err != nil}
				if err == nil {
					a.failed = resp.StatusCode != http.StatusOK
					a.fellBack = resp.Header.Get("X-Gantry-Fallback") == canary
					a.canary = resp.Header.Get("X-Gantry-Revision") == canary || a.fellBack
					resp.Body.Close()
				}
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			})
		}
	})
	return l
}

// stop ends the load and returns the time from the first failure to the
// last canary answer, and the failures and requests in that span.
func (l *openLoadGen) stop() (cut time.Duration, failed, sent int) {
	l.cancel()
	l.wg.Wait()
	var first, last time.Time
	for _, a := range l.answers {
		if (a.failed || a.fellBack) && (first.IsZero() || a.at.Before(first)) {
			first = a.at
		}
		if a.canary && a.at.After(last) {
			last = a.at
		}
	}
	if first.IsZero() {
		return 0, 0, 0
	}
	for _, a := range l.answers {
		if !a.at.Before(first) && !a.at.After(last) {
			sent++
			if a.failed {
				failed++
			}
		}
	}
	return last.Sub(first), failed, sent
}
