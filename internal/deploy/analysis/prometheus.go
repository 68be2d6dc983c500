package analysis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Prometheus runs instant PromQL queries over the HTTP API.
type Prometheus struct {
	// Client sends the requests; http.DefaultClient when nil.
	Client *http.Client
}

// Measure runs the query now. A scalar or a single-sample vector is the
// value (NaN included: the conditions judge it); an empty vector is no data;
// several samples, a range vector or a string are errors, since a condition
// needs one number. HTTP and API errors are errors.
func (p Prometheus) Measure(ctx context.Context, m *Metric, args Args) (Measurement, error) {
	spec := m.Provider.Prometheus
	if spec == nil {
		return Measurement{}, fmt.Errorf("metric %q: not a prometheus metric", m.Name)
	}
	query, err := expand(spec.Query, &args)
	if err != nil {
		return Measurement{}, fmt.Errorf("resolve query: %w", err)
	}
	address, err := expand(spec.Address, &args)
	if err != nil {
		return Measurement{}, fmt.Errorf("resolve address: %w", err)
	}
	out := Measurement{Samples: -1, Query: query}
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	if len(spec.Headers) > 0 {
		c := *client
		c.Transport = headerTransport{base: client.Transport, headers: spec.Headers, args: &args}
		client = &c
	}
	apiClient, err := api.NewClient(api.Config{Address: address, Client: client})
	if err != nil {
		return out, fmt.Errorf("prometheus at %q: %w", address, err)
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	val, warnings, _, err := promv1.NewAPI(apiClient).Query(ctx, query, time.Time{}, promv1.WithTimeout(timeout))
	if err != nil {
		var apiErr *promv1.Error
		if errors.As(err, &apiErr) && apiErr.Detail != "" && !strings.Contains(apiErr.Msg, apiErr.Detail) {
			return out, fmt.Errorf("query prometheus at %s: %w (%s)", address, err, truncate(strings.TrimSpace(apiErr.Detail), 200))
		}
		return out, fmt.Errorf("query prometheus at %s: %w", address, err)
	}
	var raw strings.Builder
	if val != nil {
		raw.WriteString(truncate(val.String(), 512))
	}
	for _, w := range warnings {
		fmt.Fprintf(&raw, " (warning: %s)", w)
	}
	out.Raw = strings.TrimSpace(raw.String())
	switch v := val.(type) {
	case *model.Scalar:
		out.Value = float64(v.Value)
	case model.Vector:
		switch len(v) {
		case 0:
			out.NoData = true
		case 1:
			if v[0].Histogram != nil {
				return out, fmt.Errorf("query returned a native histogram sample %s; use histogram_quantile or similar to get one number", v[0].Metric)
			}
			out.Value = float64(v[0].Value)
		default:
			return out, fmt.Errorf("query returned %d samples; a condition needs one number: aggregate them (sum, max, ...)", len(v))
		}
	case nil:
		return out, fmt.Errorf("prometheus at %s returned no result", address)
	default:
		return out, fmt.Errorf("query returned a %s; a condition needs a scalar or a single-sample instant vector", val.Type())
	}
	return out, nil
}

// headerTransport adds the spec's headers (resolved) to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers []Header
	args    *Args
}

// RoundTrip sends a copy of req with the headers set, since a RoundTripper
// must not modify the request it is given.
func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	for _, h := range t.headers {
		v, err := expand(h.Value, t.args)
		if err != nil {
			if req.Body != nil {
				_ = req.Body.Close() // a RoundTripper closes the body even when it fails
			}
			return nil, fmt.Errorf("resolve header %s: %w", h.Key, err)
		}
		out.Header.Set(h.Key, v)
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// truncate keeps the first n bytes of s, marking the cut, without splitting
// a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
