package proxy

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// scrapeHas scrapes reg over HTTP, as Prometheus would, and reports whether every
// fragment appears in the exposition.
func scrapeHas(t testing.TB, reg *prometheus.Registry, fragments ...string) bool {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	for _, f := range fragments {
		if !strings.Contains(string(body), f) {
			return false
		}
	}
	return true
}
