package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sock"
)

// listenerInstance is one long-running module serving HTTP on a TCP
// socket wazero opens for it and hands over as its first pre-opened
// descriptor (fd 3; a Go guest takes it with net.FileListener after
// making it non-blocking). Clients reach it through a wakeProxy.
type listenerInstance struct {
	proxy  *wakeProxy
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startListener starts the module with its socket on guestPort. wazero
// binds that socket itself, so a port taken in the meantime shows as the
// instance exiting at once with EADDRINUSE, which the supervisor retries.
func startListener(rt *Runtime, mod *module, spec ReplicaSpec, env []string, out io.Writer, guestPort int) (*listenerInstance, error) {
	st := &pollState{wake: make(chan struct{}, 1)}
	proxy, err := newWakeProxy(net.JoinHostPort("127.0.0.1", strconv.Itoa(guestPort)), st)
	if err != nil {
		return nil, fmt.Errorf("listen for wasm listener replica: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &listenerInstance{proxy: proxy, cancel: cancel, done: make(chan struct{})}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(filepath.Base(spec.Module)).
		WithStdout(out).
		WithStderr(out).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, kv := range env {
		k, v, _ := cutEnv(kv)
		cfg = cfg.WithEnv(k, v)
	}
	sctx := sock.WithConfig(withPollState(ctx, st), sock.NewConfig().WithTCPListener("127.0.0.1", guestPort))
	go func() {
		defer close(inst.done)
		defer proxy.close()
		m, err := rt.rt.InstantiateModule(sctx, mod.compiled, cfg)
		if m != nil {
			_ = m.Close(context.Background())
		}
		switch {
		case ctx.Err() != nil:
			inst.err = errors.New("stopped")
		case err != nil:
			inst.err = fmt.Errorf("wasm listener: %w", err)
		default:
			inst.err = errors.New("wasm listener exited with status 0")
		}
	}()
	return inst, nil
}

func (i *listenerInstance) endpoint() string        { return i.proxy.addr() }
func (i *listenerInstance) pid() int                { return 0 }
func (i *listenerInstance) exited() <-chan struct{} { return i.done }
func (i *listenerInstance) exitErr() error          { return i.err }

// stop closes the module at once: the proxy drained it already, and a
// wasm guest has no signal to shut down gracefully on.
func (i *listenerInstance) stop(context.Context) {
	i.cancel()
	<-i.done
}
