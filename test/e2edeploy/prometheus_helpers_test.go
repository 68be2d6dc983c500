package e2edeploy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/test/gantrytest"
)

// prometheusBin is Debian's `prometheus` package's server.
const prometheusBin = "/usr/bin/prometheus"

// startPrometheus runs a real Prometheus on a free loopback port that
// scrapes target's /metrics every second, and waits until it is ready and
// has scraped the target once, so that a query failing later is about the
// data, not about Prometheus starting. It skips the test when Debian's
// prometheus package is not installed.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Skipf("%s not found (install the Debian package prometheus): %v", prometheusBin, err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: gantry
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, target)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(prometheusBin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	out := &gantrytest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	base := "http://" + addr
	ready := func() bool {
		code, _, err := get(base + "/-/ready")
		return err == nil && code == 200
	}
	scraped := func() bool {
		v, ok := promQuery(base, `up{job="gantry"}`)
		return ok && v == "1"
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() || !scraped() {
		select {
		case <-done:
			t.Fatalf("prometheus exited at start:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s was not ready and scraping %s within 60s:\n%s", base, target, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return base
}

// promQuery runs an instant query and returns the value of a
// single-sample answer.
func promQuery(base, query string) (string, bool) {
	code, body, err := get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil || code != 200 {
		return "", false
	}
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(body), &r) != nil || len(r.Data.Result) != 1 {
		return "", false
	}
	v, ok := r.Data.Result[0].Value[1].(string)
	return v, ok
}

// analysisJSON is `gantry rollout analysis --json` decoded as far as these
// tests read it.
type analysisJSON struct {
	Verdict *struct {
		Run      string `json:"run"`
		Revision int64  `json:"revision"`
		Phase    string `json:"phase"`
		Reason   string `json:"reason"`
	} `json:"verdict"`
	Measurements []struct {
		Run      string          `json:"run"`
		Revision int64           `json:"revision"`
		Metric   string          `json:"metric"`
		Value    json.RawMessage `json:"value"`
		Query    string          `json:"query"`
		Phase    string          `json:"phase"`
		NoData   bool            `json:"noData"`
	} `json:"measurements"`
}

// phasesByMetric lists, per metric, the phases of rev's measurements in
// order, and the queries they show.
func (a analysisJSON) phasesByMetric(rev int64) (phases, queries map[string][]string) {
	phases, queries = map[string][]string{}, map[string][]string{}
	for _, m := range a.Measurements {
		if m.Revision != rev {
			continue
		}
		phases[m.Metric] = append(phases[m.Metric], m.Phase)
		queries[m.Metric] = append(queries[m.Metric], m.Query)
	}
	return phases, queries
}

// metricsHave reports whether the server's /metrics has a
// http_requests_total series with all the given label pairs.
func metricsHave(serverURL string, labels ...string) bool {
	code, body, err := get(serverURL + "/metrics")
	if err != nil || code != 200 {
		return false
	}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "http_requests_total{") {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(line, l)
		}
		if all {
			return true
		}
	}
	return false
}
