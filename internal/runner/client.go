package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/runnerapi"
)

// Errors an APIError unwraps to, so callers can tell the answers the
// runner acts on from the others with errors.Is.
var (
	// ErrLeaseLost is a 409: the job is no longer this runner's; stop it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrNotFound is a 404.
	ErrNotFound = errors.New("not found")
)

// APIError is an error answer of the server.
type APIError struct {
	Op     string // what the runner was doing: "renew lease of job 5"
	Status int
	Reason string // the server's Error.Error, or the body's start
}

// Error says what was being done, the status and the server's reason.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, http.StatusText(e.Status), e.Reason)
}

// Unwrap maps the statuses the runner reacts to onto the Err* values.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusConflict:
		return ErrLeaseLost
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// maxReason bounds how much of an error body ends up in an error message.
const maxReason = 512

// errorReason extracts the server's reason from an error answer's body:
// the JSON Error's message, else the start of the text, else the status
// text. The body comes from the network, so it is never trusted to be JSON,
// UTF-8 or short.
func errorReason(status int, body []byte) string {
	var e runnerapi.Error
	if json.Unmarshal(body, &e) == nil && strings.TrimSpace(e.Error) != "" {
		return truncate(strings.TrimSpace(e.Error))
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		return truncate(s)
	}
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "status " + strconv.Itoa(status)
}

func truncate(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// Client calls the runner API of one server with the runner's token.
// Calls that may safely be repeated (lease, log with offset, uploads,
// downloads, finish) are retried with backoff on connection errors and 5xx
// answers, for up to RetryFor; asking for a job is not, since a job handed
// out in a lost answer must not be taken twice.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// RetryFor bounds how long one call keeps retrying.
	RetryFor time.Duration
	// Name and Tags are sent when asking for a job.
	Name string
	Tags []string
}

// DefaultRetryFor is Client.RetryFor unless changed: long enough to ride
// out a server restart.
const DefaultRetryFor = time.Minute

// NewClient returns a client of the server at serverURL (scheme, host and
// any path prefix). A nil hc means a default http.Client; calls are
// bounded by their contexts, not by a client timeout, because artifact
// uploads may legitimately take long.
func NewClient(serverURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[/prefix]", serverURL)
	}
	if token == "" {
		return nil, errors.New("runner token is empty")
	}
	if hc == nil {
		hc = &http.Client{}
	}
	u.RawQuery, u.Fragment = "", ""
	return &Client{base: u, token: token, http: hc, RetryFor: DefaultRetryFor}, nil
}

// jobURL is the address of a job endpoint; rest are path segments,
// escaped here one by one so that a cache key holding "/" stays a segment.
func (c *Client) jobURL(id int64, query url.Values, rest ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(c.base.String(), "/"))
	b.WriteString("/api/v1/runner/jobs/")
	b.WriteString(strconv.FormatInt(id, 10))
	for _, s := range rest {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if len(query) > 0 {
		b.WriteByte('?')
		b.WriteString(query.Encode())
	}
	return b.String()
}

// transientError marks a failure worth retrying.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// request is one HTTP exchange of a call.
type request struct {
	op, method, url string
	// body opens the request body afresh for each attempt; nil sends none.
	body        func() (io.ReadCloser, int64, error)
	contentType string
	header      http.Header
}

// send makes one attempt and returns the response whatever its status;
// connection errors come back as transient.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var body io.ReadCloser
	size := int64(0)
	if r.body != nil {
		var err error
		if body, size, err = r.body(); err != nil {
			return nil, fmt.Errorf("%s: %w", r.op, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, fmt.Errorf("%s: %w", r.op, err)
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", r.op, context.Cause(ctx))
		}
		return nil, &transientError{fmt.Errorf("%s: %w", r.op, err)}
	}
	return resp, nil
}

// apiError reads an error answer and closes its body; 5xx are transient.
func apiError(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxReason))
	resp.Body.Close()
	err := &APIError{Op: op, Status: resp.StatusCode, Reason: errorReason(resp.StatusCode, body)}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return &transientError{err}
	}
	return err
}

// retry runs attempt until it succeeds, fails for good, ctx ends or
// RetryFor has passed, waiting 250 ms doubling to 5 s between attempts.
func (c *Client) retry(ctx context.Context, attempt func() error) error {
	start := time.Now()
	delay := 250 * time.Millisecond
	for {
		err := attempt()
		var t *transientError
		if err == nil || !errors.As(err, &t) || time.Since(start)+delay > c.RetryFor {
			return unwrapTransient(err)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", unwrapTransient(err), context.Cause(ctx))
		case <-timer.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func unwrapTransient(err error) error {
	if t, ok := err.(*transientError); ok {
		return t.err
	}
	return err
}

// decodeJSON reads a successful answer into v.
func decodeJSON(op string, resp *http.Response, v any) error {
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return &transientError{fmt.Errorf("%s: read answer: %w", op, err)}
	}
	return nil
}

func jsonBody(v any) func() (io.ReadCloser, int64, error) {
	data, err := json.Marshal(v)
	return func() (io.ReadCloser, int64, error) {
		if err != nil {
			return nil, 0, err
		}
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
}

func fileBody(path string) func() (io.ReadCloser, int64, error) {
	return func() (io.ReadCloser, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, info.Size(), nil
	}
}

// jobRequest is what a runner tells the server when asking for work. The
// contract leaves the body open; the server may ignore it and use what it
// registered for the token.
type jobRequest struct {
	Name string   `json:"name,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// RequestJob asks for a job, waiting up to wait on the server for one; it
// returns nil and no error when none came. It is not retried: the caller
// asks again.
func (c *Client) RequestJob(ctx context.Context, wait time.Duration) (*runnerapi.JobSpec, error) {
	const op = "request job"
	// The server holds the answer for wait; give the exchange that and a
	// margin before deciding the connection is dead.
	ctx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	u := strings.TrimRight(c.base.String(), "/") + "/api/v1/runner/jobs/request?" + url.Values{"wait": {wait.String()}}.Encode()
	resp, err := c.send(ctx, request{op: op, method: http.MethodPost, url: u, body: jsonBody(jobRequest{Name: c.Name, Tags: c.Tags}), contentType: "application/json"})
	if err != nil {
		return nil, unwrapTransient(err)
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		resp.Body.Close()
		return nil, nil
	case http.StatusOK:
		var spec runnerapi.JobSpec
		if err := decodeJSON(op, resp, &spec); err != nil {
			return nil, unwrapTransient(err)
		}
		return &spec, nil
	default:
		return nil, unwrapTransient(apiError(op, resp))
	}
}

// RenewLease extends the job's lease; ErrLeaseLost says to stop the job.
func (c *Client) RenewLease(ctx context.Context, id int64) (runnerapi.Lease, error) {
	op := fmt.Sprintf("renew lease of job %d", id)
	var lease runnerapi.Lease
	err := c.retry(ctx, func() error {
		resp, err := c.send(ctx, request{op: op, method: http.MethodPut, url: c.jobURL(id, nil, "lease")})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return apiError(op, resp)
		}
		return decodeJSON(op, resp, &lease)
	})
	return lease, err
}

// AppendLog sends the log bytes that start at offset and returns how many
// bytes of the log the server then holds. When offset is not the server's
// size (a 416) nothing is stored and the server's size is returned: the
// caller resends from there. ErrLeaseLost says to stop the job.
func (c *Client) AppendLog(ctx context.Context, id, offset int64, data []byte) (int64, error) {
	op := fmt.Sprintf("append to log of job %d", id)
	var ack runnerapi.LogAck
	err := c.retry(ctx, func() error {
		resp, err := c.send(ctx, request{
			op: op, method: http.MethodPatch, url: c.jobURL(id, url.Values{"offset": {strconv.FormatInt(offset, 10)}}, "log"),
			body: func() (io.ReadCloser, int64, error) {
				return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
			},
			contentType: "application/octet-stream",
		})
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusAccepted, http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
			return decodeJSON(op, resp, &ack)
		}
		return apiError(op, resp)
	})
	if err != nil {
		return 0, err
	}
	if ack.Size < 0 {
		return 0, fmt.Errorf("%s: server holds %d bytes", op, ack.Size)
	}
	return ack.Size, nil
}

// UploadArtifact sends one file of the job's artifact folder (file is its
// base name: artifacts.tar.zst, index.json or meta.json).
func (c *Client) UploadArtifact(ctx context.Context, id int64, file, path string) error {
	op := fmt.Sprintf("upload artifact file %s of job %d", file, id)
	return c.upload(ctx, op, c.jobURL(id, nil, "artifacts", file), path)
}

// PutCache uploads the archive at path as the project's cache of key.
func (c *Client) PutCache(ctx context.Context, id int64, key, path string) error {
	op := fmt.Sprintf("upload cache %q", key)
	return c.upload(ctx, op, c.jobURL(id, nil, "caches", key), path)
}

func (c *Client) upload(ctx context.Context, op, u, path string) error {
	return c.retry(ctx, func() error {
		resp, err := c.send(ctx, request{op: op, method: http.MethodPut, url: u, body: fileBody(path), contentType: "application/octet-stream"})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
			return apiError(op, resp)
		}
		resp.Body.Close()
		return nil
	})
}

// DownloadArtifact writes file of the artifacts of job depID, as job id
// may receive them, to path; false (and path untouched) when that job has
// no such file.
func (c *Client) DownloadArtifact(ctx context.Context, id, depID int64, file, path string) (bool, error) {
	op := fmt.Sprintf("download artifact file %s of job %d", file, depID)
	got, _, err := c.download(ctx, op, c.jobURL(id, nil, "artifacts", strconv.FormatInt(depID, 10), file), path, time.Time{})
	return got, err
}

// GetCache writes the project's cache archive of key to path. With a
// non-zero since, a server that says the archive has not changed since
// then (304) sends nothing. It returns whether path was written and the
// archive's modification time when the server gave one.
func (c *Client) GetCache(ctx context.Context, id int64, key, path string, since time.Time) (bool, time.Time, error) {
	op := fmt.Sprintf("download cache %q", key)
	return c.download(ctx, op, c.jobURL(id, nil, "caches", key), path, since)
}

func (c *Client) download(ctx context.Context, op, u, path string, since time.Time) (got bool, modTime time.Time, err error) {
	var header http.Header
	if !since.IsZero() {
		header = http.Header{"If-Modified-Since": {since.UTC().Format(http.TimeFormat)}}
	}
	err = c.retry(ctx, func() error {
		resp, err := c.send(ctx, request{op: op, method: http.MethodGet, url: u, header: header})
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusNotModified:
			resp.Body.Close()
			got = false
			return nil
		case http.StatusOK:
		default:
			return apiError(op, resp)
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		n, err := io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return &transientError{fmt.Errorf("%s: %w", op, err)}
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return &transientError{fmt.Errorf("%s: got %d of %d bytes", op, n, resp.ContentLength)}
		}
		got = true
		modTime, _ = http.ParseTime(resp.Header.Get("Last-Modified"))
		return nil
	})
	return got, modTime, err
}

// Finish reports how the job ended. ErrLeaseLost means the server no
// longer took the result (the job was given up on or handed to another).
func (c *Client) Finish(ctx context.Context, id int64, r runnerapi.Result) error {
	op := fmt.Sprintf("finish job %d", id)
	return c.retry(ctx, func() error {
		resp, err := c.send(ctx, request{op: op, method: http.MethodPost, url: c.jobURL(id, nil, "finish"), body: jsonBody(r), contentType: "application/json"})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
			return apiError(op, resp)
		}
		resp.Body.Close()
		return nil
	})
}
