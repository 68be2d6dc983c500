package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServeOptions tune Serve.
type ServeOptions struct {
	// TLS, when set, serves HTTPS with HTTP/2 negotiated by ALPN; without it the listener
	// speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
	TLS *tls.Config
	// ShutdownTimeout bounds the graceful shutdown once ctx ends (default 30s); requests
	// still running then are cut off.
	ShutdownTimeout time.Duration
}

// Server is a listener started by Serve.
type Server struct {
	addr net.Addr
	done chan error
}

// Addr is the address actually listened on, which tells the port when addr was ":0".
func (s *Server) Addr() net.Addr { return s.addr }

// Wait blocks until the server has shut down after its context ended and returns why it
// stopped, nil for a clean shutdown.
func (s *Server) Wait() error { return <-s.done }

// Serve listens on addr and serves h (normally a *Proxy) in the background until ctx
// ends, then shuts down gracefully. It returns once the listener is open, so the caller
// knows the port before the first request.
func Serve(ctx context.Context, addr string, h http.Handler, opts ServeOptions) (*Server, error) {
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	if opts.TLS != nil {
		protos.SetHTTP2(true)
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         protos,
		TLSConfig:         opts.TLS,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	s := &Server{addr: ln.Addr(), done: make(chan error, 1)}
	served := make(chan error, 1)
	go func() {
		if opts.TLS != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	go func() {
		select {
		case err := <-served: // failed on its own
			s.done <- fmt.Errorf("serve on %s: %w", s.addr, err)
			return
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		if err != nil {
			_ = srv.Close()
			err = fmt.Errorf("shut down server on %s: %w", s.addr, err)
		}
		s.done <- err
	}()
	return s, nil
}
