// Command backend is the replica bench/proxy.sh puts behind nginx and Gantry's proxy: it
// answers every request with a small fixed body, so the benchmark measures the proxies.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18081", "address to listen on")
	name := flag.String("name", "backend", "name written into every response")
	flag.Parse()
	body := []byte("hello from " + *name + "\n")
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}
