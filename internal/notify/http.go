package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// userAgent names Gantry to receivers, which often log or filter on it.
const userAgent = "Gantry-Notify/1"

// post sends body and classifies the answer: 2xx is delivered; 429 and
// 5xx are worth retrying (after Retry-After if given); any other status
// is permanent. Transport errors are returned as they are, i.e. retried.
func (n *Notifier) post(ctx context.Context, target string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := n.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", scrubURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("receiver answered %s", resp.Status)
	if s := oneLine(string(snippet)); s != "" {
		err = fmt.Errorf("receiver answered %s: %s", resp.Status, truncate(s, 200))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), n.opts.Clock.Now()); ok {
			return &retryAfterError{err: err, after: d}
		}
		return err
	}
	return permanent(err)
}

// scrubURL removes the request URL from a transport error: a Slack hook
// URL is a credential, and errors end up in delivery records and logs.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
