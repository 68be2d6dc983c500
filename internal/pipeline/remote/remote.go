// Package remote fetches include:remote files over HTTP(S) with GitLab's
// limits. It is kept apart from internal/pipeline/gitlab so that the front
// end stays free of network I/O: callers inject Fetch.
package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Remote includes are fetched with these limits; GitLab allows 30 s.
const (
	remoteTimeout  = 30 * time.Second
	remoteMaxBytes = 4 << 20
)

// Fetch reads an include:remote file over HTTP(S); it is the Fetch of
// gitlab.Options wherever includes may reach the network.
func Fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("only http and https URLs can be included, not %q", req.URL.Scheme)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, remoteMaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > remoteMaxBytes {
		return nil, fmt.Errorf("larger than %d bytes", remoteMaxBytes)
	}
	return data, nil
}
