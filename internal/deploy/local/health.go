package local

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
)

// probe checks one replica: an HTTP GET of path answering 2xx or 3xx
// (as Kubernetes counts it), or with no path a TCP connect.
func probe(ctx context.Context, client *http.Client, endpoint string, hc HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	if hc.Path == "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", endpoint)
		if err != nil {
			return fmt.Errorf("health check connect: %w", err)
		}
		return c.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+endpoint+hc.Path, nil)
	if err != nil {
		return fmt.Errorf("health check GET %s: %w", hc.Path, err)
	}
	req.Header.Set("User-Agent", "gantry-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check GET %s: %w", hc.Path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("health check GET %s: status %d", hc.Path, resp.StatusCode)
	}
	return nil
}

// freePort asks the kernel for an unused loopback port. Another program
// may take it before the replica binds it; the supervisor notices and
// picks again.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// portTaken reports whether something else is listening on port, which
// is why a process that exited before becoming ready may have failed.
func portTaken(endpoint string) bool {
	ln, err := net.Listen("tcp", endpoint)
	if err != nil {
		return true
	}
	_ = ln.Close()
	return false
}
