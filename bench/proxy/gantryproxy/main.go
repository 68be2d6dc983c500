// Command gantryproxy runs Gantry's weighted proxy on a port for bench/proxy.sh, with
// revisions given on the command line:
//
//	gantryproxy -listen 127.0.0.1:18091 -rev stable=90=127.0.0.1:18081,127.0.0.1:18082 -rev canary=10=127.0.0.1:18083
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
)

// revFlags collects -rev NAME=WEIGHT=HOST:PORT[,HOST:PORT...] flags.
type revFlags []proxy.Backend

func (r *revFlags) String() string { return fmt.Sprint(*r) }

func (r *revFlags) Set(s string) error {
	parts := strings.SplitN(s, "=", 3)
	if len(parts) != 3 {
		return fmt.Errorf("want NAME=WEIGHT=HOST:PORT[,...], got %q", s)
	}
	w, err := strconv.Atoi(parts[1])
	if err != nil {
		return fmt.Errorf("weight %q: %w", parts[1], err)
	}
	*r = append(*r, proxy.Backend{Revision: parts[0], Weight: w, Endpoints: strings.Split(parts[2], ",")})
	return nil
}

func main() {
	addr := flag.String("listen", "127.0.0.1:18091", "address to listen on")
	var revs revFlags
	flag.Var(&revs, "rev", "revision as NAME=WEIGHT=HOST:PORT[,HOST:PORT...] (repeatable)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gantryproxy: cpu profile:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(*addr, revs); err != nil {
		fmt.Fprintln(os.Stderr, "gantryproxy:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(addr string, revs revFlags) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := proxy.New(proxy.Options{App: "bench", Env: "bench"})
	defer p.Close()
	if err := p.SetRoutes(proxy.Routes{Backends: revs}); err != nil {
		return err
	}
	srv, err := proxy.Serve(ctx, addr, p, proxy.ServeOptions{})
	if err != nil {
		return err
	}
	fmt.Println("listening on", srv.Addr())
	return srv.Wait()
}
