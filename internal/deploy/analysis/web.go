package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// maxWebBody bounds how much of an answer a web check reads.
const maxWebBody = 1 << 20

// Web measures with an HTTP request, reading the JSON answer with the
// metric's jsonPath.
type Web struct {
	// Client sends the requests; http.DefaultClient when nil.
	Client *http.Client
}

// Measure sends the request and reads the value at jsonPath: a number is
// the value, a bool is 1 or 0, a string, list or object is the result the
// conditions see, and null is no data. Without jsonPath the whole body is
// the result (as JSON when it parses, else as text). A status other than
// 2xx, a missing path, or a timeout is an error.
func (w Web) Measure(ctx context.Context, m *Metric, args Args) (Measurement, error) {
	spec := m.Provider.Web
	if spec == nil {
		return Measurement{}, fmt.Errorf("metric %q: not a web metric", m.Name)
	}
	url, err := expand(spec.URL, &args)
	if err != nil {
		return Measurement{}, fmt.Errorf("resolve url: %w", err)
	}
	body, err := expand(spec.Body, &args)
	if err != nil {
		return Measurement{}, fmt.Errorf("resolve body: %w", err)
	}
	path := spec.path
	if path == nil && spec.JSONPath != "" {
		if path, err = parseJSONPath(spec.JSONPath); err != nil {
			return Measurement{}, err
		}
	}
	method := spec.Method
	if method == "" {
		method = http.MethodGet
	}
	out := Measurement{Samples: -1, Query: method + " " + url}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return out, fmt.Errorf("build request %s: %w", out.Query, err)
	}
	if body != "" && json.Valid([]byte(body)) {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range spec.Headers {
		v, err := expand(h.Value, &args)
		if err != nil {
			return out, fmt.Errorf("resolve header %s: %w", h.Key, err)
		}
		req.Header.Set(h.Key, v)
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return out, fmt.Errorf("%s: %w", out.Query, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebBody))
	if err != nil {
		return out, fmt.Errorf("%s: read answer: %w", out.Query, err)
	}
	out.Raw = truncate(fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(data)), 512)
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s answered %s", out.Query, truncate(resp.Status+": "+string(bytes.TrimSpace(data)), 200))
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		if path != nil {
			return out, fmt.Errorf("%s: answer is not JSON: %w", out.Query, err)
		}
		return setWebResult(out, strings.TrimSpace(string(data))), nil
	}
	if path != nil {
		v, ok, where := path.lookup(doc)
		if !ok {
			return out, fmt.Errorf("%s: jsonPath %s: %s", out.Query, path, where)
		}
		doc = v
	}
	return setWebResult(out, doc), nil
}

// setWebResult fills Value and Result from a decoded JSON value.
func setWebResult(out Measurement, v any) Measurement {
	switch x := v.(type) {
	case nil:
		out.NoData = true
		out.Value = math.NaN()
	case float64:
		out.Value = x
	case bool:
		out.Result = x
		out.Value = 0
		if x {
			out.Value = 1
		}
	case string:
		out.Result = x
		out.Value = math.NaN()
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			out.Value = f
		}
	default:
		out.Result = x
		out.Value = math.NaN()
	}
	return out
}
