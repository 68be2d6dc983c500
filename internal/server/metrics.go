package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gantry-ci/gantry/internal/store"
)

// metrics are the server's Prometheus figures, on a registry of its own
// (no global state: tests run several servers in one process).
type metrics struct {
	reg              *prometheus.Registry
	pipelinesCreated *prometheus.CounterVec
	pipelinesDone    *prometheus.CounterVec
	pipelineSeconds  *prometheus.HistogramVec
	jobsDone         *prometheus.CounterVec
	jobSeconds       *prometheus.HistogramVec
	queueWait        prometheus.Histogram
	hooksRejected    *prometheus.CounterVec
	requests         *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		pipelinesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_pipelines_created_total", Help: "Pipelines created, by source.",
		}, []string{"source"}),
		pipelinesDone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_pipelines_finished_total", Help: "Pipelines that ended, by status.",
		}, []string{"status"}),
		pipelineSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gantry_pipeline_duration_seconds", Help: "Pipeline durations from start to end.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"status"}),
		jobsDone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_jobs_finished_total", Help: "Job attempts that ended, by status.",
		}, []string{"status"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gantry_job_duration_seconds", Help: "Job durations on their runner.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16),
		}, []string{"status"}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gantry_queue_wait_seconds", Help: "Time from a job becoming runnable to a runner taking it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}),
		hooksRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_webhooks_rejected_total", Help: "Webhook deliveries refused for their signature, by forge.",
		}, []string{"forge"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_api_requests_total", Help: "HTTP requests answered by the server, by method and code.",
		}, []string{"method", "code"}),
	}
	queue := func(pick func(n int, oldest time.Duration) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, oldest, err := s.store.QueueStats(ctx, time.Now())
			if err != nil {
				return 0
			}
			return pick(n, oldest)
		}
	}
	m.reg.MustRegister(
		m.pipelinesCreated, m.pipelinesDone, m.pipelineSeconds, m.jobsDone, m.jobSeconds,
		m.queueWait, m.hooksRejected, m.requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_queue_depth", Help: "Jobs waiting for a runner."},
			queue(func(n int, _ time.Duration) float64 { return float64(n) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_queue_oldest_seconds", Help: "How long the oldest pending job has waited."},
			queue(func(_ int, d time.Duration) float64 { return d.Seconds() })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gantry_runners_online", Help: "Runners seen in the last 75 seconds."},
			func() float64 {
				rs, err := s.store.ListRunners(context.Background())
				if err != nil {
					return 0
				}
				n := 0
				for _, r := range rs {
					if time.Since(r.LastSeen) < 75*time.Second {
						n++
					}
				}
				return float64(n)
			}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) pipelineCreated(source string) { m.pipelinesCreated.WithLabelValues(source).Inc() }

func (m *metrics) pipelineFinished(p *store.Pipeline) {
	m.pipelinesDone.WithLabelValues(p.Status).Inc()
	if !p.StartedAt.IsZero() && !p.FinishedAt.IsZero() {
		m.pipelineSeconds.WithLabelValues(p.Status).Observe(p.FinishedAt.Sub(p.StartedAt).Seconds())
	}
}

func (m *metrics) jobStarted(j *store.Job) {
	if !j.QueuedAt.IsZero() {
		m.queueWait.Observe(time.Since(j.QueuedAt).Seconds())
	}
}

func (m *metrics) jobFinished(j *store.Job) {
	m.jobsDone.WithLabelValues(j.Status).Inc()
	if !j.StartedAt.IsZero() && !j.FinishedAt.IsZero() {
		m.jobSeconds.WithLabelValues(j.Status).Observe(j.FinishedAt.Sub(j.StartedAt).Seconds())
	}
}

func (m *metrics) hookRejected(forge string) { m.hooksRejected.WithLabelValues(forge).Inc() }

// instrument counts requests by method and code.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.requests.WithLabelValues(r.Method, strconv.Itoa(rec.code)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
