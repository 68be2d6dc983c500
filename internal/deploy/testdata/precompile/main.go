// Command precompile fills a wasm compilation cache with one module's
// machine code. The controller tests run it without -race: compiling a Go
// wasm module under the race detector takes most of a minute, loading it
// from the cache is quick. It compiles through local.Runtime so that the
// runtime configuration, part of the cache key, is the one replicas use.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gantry-ci/gantry/internal/deploy/local"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: precompile CACHE-DIR MODULE.wasm")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

func run(dir, module string) error {
	ctx := context.Background()
	rt, err := local.NewRuntime(ctx, local.RuntimeOptions{CacheDir: dir})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	set, err := local.NewSet(local.ReplicaSpec{App: "precompile", Kind: local.KindWasm, Module: module}, local.Options{Runtime: rt})
	if err != nil {
		return err
	}
	defer set.Close(ctx)
	// Scaling compiles the module (and stores it in the cache) before
	// starting anything.
	if err := set.Scale(ctx, 1); err != nil {
		return fmt.Errorf("compile %s: %w", module, err)
	}
	return nil
}
