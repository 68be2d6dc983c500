// Command wasm-service is the example microservice of the seed design: a
// small user API built for GOOS=wasip1 GOARCH=wasm and deployed by Gantry.
//
// One binary serves in every way Gantry can run it. Under WAGI the host
// starts it once per request with CGI variables (REQUEST_METHOD is set)
// and it answers on stdout. In listener mode the host pre-opens a TCP
// socket as file descriptor 3 and it serves HTTP there for its whole life.
// Built natively it listens on $PORT, which is how the tests and a process
// replica run it.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"time"
)

// maxBody bounds what /echo reads so a client cannot make one request
// hold the module's whole memory.
const maxBody = 1 << 20

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wasm-service:", err)
		os.Exit(1)
	}
}

func run() error {
	h := newHandler(configFromEnv(os.Getenv))
	if os.Getenv("REQUEST_METHOD") != "" {
		if err := cgi.Serve(h); err != nil {
			return fmt.Errorf("serve CGI request: %w", err)
		}
		return nil
	}
	ln, err := listen()
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	return nil
}

func readAll(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}
