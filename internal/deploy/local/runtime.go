package local

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// RuntimeOptions configure a Runtime.
type RuntimeOptions struct {
	// CacheDir keeps wazero's compiled machine code on disk, so a Gantry
	// restart does not compile every deployed module again. Empty keeps
	// compiled modules in memory only.
	CacheDir string
}

// Runtime runs the wasm replicas of any number of Sets. Compiling a Go
// module takes seconds, so compiled modules are shared by content hash
// and kept while some Set uses them. Modules are compiled with their
// data segments merged (see mergeDataSegments), which halves the cost
// of a WAGI request for a Go module.
type Runtime struct {
	rt wazero.Runtime

	mu      sync.Mutex
	modules map[[sha256.Size]byte]*module
	closed  bool
}

// module is one compiled wasm file, shared by every Set that runs it.
type module struct {
	hash     [sha256.Size]byte
	ready    chan struct{} // closed once compiled or err is set
	compiled wazero.CompiledModule
	err      error
	refs     int
}

// NewRuntime creates a wazero runtime with WASI. Its poll_oneoff is
// Gantry's own (see pollOneoff) so an idle listener does not spin.
func NewRuntime(ctx context.Context, opts RuntimeOptions) (*Runtime, error) {
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if opts.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open wasm compilation cache %s: %w", opts.CacheDir, err)
		}
		cfg = cfg.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := api.ValueTypeI32
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(pollOneoff), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("in", "out", "nsubscriptions", "result.nevents").
		Export("poll_oneoff")
	if _, err := b.Instantiate(ctx); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	return &Runtime{rt: rt, modules: map[[sha256.Size]byte]*module{}}, nil
}

// Close stops every module still running and frees compiled code.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.modules = map[[sha256.Size]byte]*module{}
	r.mu.Unlock()
	if err := r.rt.Close(ctx); err != nil {
		return fmt.Errorf("close wasm runtime: %w", err)
	}
	return nil
}

// Compiled reports how many distinct modules are compiled and in use.
func (r *Runtime) Compiled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.modules)
}

// Precompile compiles the module at path without running it, so a
// broken module is rejected before a rollout starts and, with CacheDir,
// the first Scale (even after a Gantry restart) finds it compiled. The
// compiled code is not kept in memory unless a Set is using it.
func (r *Runtime) Precompile(ctx context.Context, path string) error {
	m, err := r.acquire(ctx, path)
	if err != nil {
		return err
	}
	r.release(m)
	return nil
}

// acquire returns the compiled module for the file at path, compiling it
// unless a module with the same bytes is already in use. Callers release
// it when done.
func (r *Runtime) acquire(ctx context.Context, path string) (*module, error) {
	code, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read wasm module: %w", err)
	}
	hash := sha256.Sum256(code)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("wasm runtime is closed")
	}
	m, found := r.modules[hash]
	if !found {
		m = &module{hash: hash, ready: make(chan struct{})}
		r.modules[hash] = m
	}
	m.refs++
	r.mu.Unlock()

	if !found {
		m.compiled, m.err = r.rt.CompileModule(ctx, mergeDataSegments(code))
		if m.err != nil {
			m.err = fmt.Errorf("compile wasm module %s: %w", path, m.err)
		}
		close(m.ready)
	}
	select {
	case <-m.ready:
	case <-ctx.Done():
		r.release(m)
		return nil, fmt.Errorf("wait for wasm module %s to compile: %w", path, ctx.Err())
	}
	if m.err != nil {
		r.release(m)
		return nil, m.err
	}
	return m, nil
}

// release drops one reference; the last one frees the compiled code.
func (r *Runtime) release(m *module) {
	r.mu.Lock()
	m.refs--
	last := m.refs == 0
	if last && r.modules[m.hash] == m {
		delete(r.modules, m.hash)
	}
	r.mu.Unlock()
	if last && m.compiled != nil {
		_ = m.compiled.Close(context.Background())
	}
}
