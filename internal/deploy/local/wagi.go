package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// Limits of one WAGI exchange. The response is buffered whole because
// its CGI header must be parsed before anything is sent; the cap keeps a
// runaway module from exhausting memory.
const (
	wagiMaxRequestBody  = 32 << 20
	wagiMaxResponseBody = 64 << 20
)

// wagiHandler serves each HTTP request by running the module once, WAGI
// style: CGI variables and the replica's environment in, request body on
// stdin, CGI response on stdout.
type wagiHandler struct {
	rt      *Runtime
	mod     *module
	name    string   // argv[0]
	env     []string // the replica's environment
	stderr  io.Writer
	port    string
	timeout time.Duration
	log     *slog.Logger
}

func (h *wagiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > wagiMaxRequestBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	stdin, n, err := wagiBody(w, r)
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()

	stdout := &cappedBuffer{max: wagiMaxResponseBody}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(h.name).
		WithStdin(stdin).
		WithStdout(stdout).
		WithStderr(h.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range mergeEnv(h.env, cgiEnv(r, h.port, n)) {
		k, v, _ := cutEnv(kv)
		cfg = cfg.WithEnv(k, v)
	}

	mod, err := h.rt.rt.InstantiateModule(ctx, h.mod.compiled, cfg)
	if mod != nil {
		_ = mod.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		var exit *sys.ExitError
		switch {
		case r.Context().Err() != nil:
			return // the client left; nobody to answer
		case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded,
			errors.Is(ctx.Err(), context.DeadlineExceeded):
			h.log.Warn("wasm request timed out", "path", r.URL.Path, "timeout", h.timeout)
			http.Error(w, fmt.Sprintf("module did not answer within %s", h.timeout), http.StatusGatewayTimeout)
		default:
			h.log.Warn("wasm request failed", "path", r.URL.Path, "err", err)
			fmt.Fprintf(h.stderr, "gantry: request %s %s: module failed: %v\n", r.Method, r.URL.Path, err)
			http.Error(w, "module failed", http.StatusInternalServerError)
		}
		return
	}
	if stdout.overflow {
		http.Error(w, "module response too large", http.StatusBadGateway)
		return
	}
	resp, err := parseCGIResponse(stdout.Bytes())
	if err != nil {
		fmt.Fprintf(h.stderr, "gantry: request %s %s: %v\n", r.Method, r.URL.Path, err)
		http.Error(w, "module wrote an invalid CGI response", http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// wagiBody returns the request body for stdin and its length. CGI needs
// CONTENT_LENGTH up front, so a chunked body is read whole first.
func wagiBody(w http.ResponseWriter, r *http.Request) (io.Reader, int64, error) {
	if r.ContentLength >= 0 {
		return io.LimitReader(r.Body, r.ContentLength), r.ContentLength, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wagiMaxRequestBody))
	if err != nil {
		return nil, 0, fmt.Errorf("read request body: %w", err)
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

// cappedBuffer is a bytes.Buffer that refuses to grow past max, so the
// module sees a write error instead of the host running out of memory.
type cappedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.overflow = true
		return 0, errors.New("response exceeds the WAGI output limit")
	}
	return b.Buffer.Write(p)
}

// wagiInstance is the per-replica HTTP server in front of the module.
type wagiInstance struct {
	srv  *http.Server
	addr string
	done chan struct{}
	err  error
}

// startWAGI listens on a fresh loopback port; the kernel picks it, so
// unlike a process there is no race for it.
func startWAGI(rt *Runtime, mod *module, spec ReplicaSpec, env []string, stderr io.Writer, timeout time.Duration, log *slog.Logger) (*wagiInstance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for WAGI replica: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	h := &wagiHandler{
		rt: rt, mod: mod, name: filepath.Base(spec.Module), env: env,
		stderr: stderr, port: port, timeout: timeout, log: log,
	}
	inst := &wagiInstance{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(inst.done)
		if err := inst.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			inst.err = fmt.Errorf("WAGI server: %w", err)
		}
	}()
	return inst, nil
}

func (i *wagiInstance) endpoint() string        { return i.addr }
func (i *wagiInstance) pid() int                { return 0 }
func (i *wagiInstance) exited() <-chan struct{} { return i.done }
func (i *wagiInstance) exitErr() error          { return i.err }

// stop lets requests in flight finish until ctx ends, then cuts them;
// cutting cancels their contexts, which closes the modules running them.
func (i *wagiInstance) stop(ctx context.Context) {
	if err := i.srv.Shutdown(ctx); err != nil {
		_ = i.srv.Close()
	}
	<-i.done
}
