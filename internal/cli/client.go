package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiClient talks to a gantry server's JSON API for the CLI.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// serverFlags are how a command reaches a server: --server/--token, else
// GANTRY_SERVER/GANTRY_TOKEN, else a server started in this folder
// (./.gantry-server/admin-token on http://127.0.0.1:8080).
type serverFlags struct {
	server, token string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "", "server URL (default $GANTRY_SERVER, else http://127.0.0.1:8080)")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API token (default $GANTRY_TOKEN, else ./.gantry-server/admin-token)")
}

func (f *serverFlags) client() (*apiClient, error) {
	base := firstNonEmpty(f.server, os.Getenv("GANTRY_SERVER"), "http://127.0.0.1:8080")
	token := firstNonEmpty(f.token, os.Getenv("GANTRY_TOKEN"))
	if token == "" {
		if data, err := os.ReadFile(filepath.Join(".gantry-server", "admin-token")); err == nil {
			token = strings.TrimSpace(string(data))
		}
	}
	if token == "" {
		return nil, &exitError{code: ExitUsage, err: errors.New("no token: give --token or GANTRY_TOKEN (the server printed its admin token at first start)")}
	}
	return &apiClient{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// do sends a JSON request and decodes a JSON answer into out (when not
// nil). Error answers become errors with the server's reason.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return nil
}

// send returns the response of a successful request; the caller closes it.
func (c *apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the server: %w", err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return nil, &exitError{code: ExitFailed, err: fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)}
	}
	return resp, nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
