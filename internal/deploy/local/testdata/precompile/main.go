// Command precompile fills a wasm compilation cache directory with one
// module, through local.Runtime.Precompile. The tests of package local
// run it built without -race, because compiling a Go wasm module under
// the race detector takes most of a minute while loading it from the
// cache is quick.
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
	return rt.Precompile(ctx, module)
}
