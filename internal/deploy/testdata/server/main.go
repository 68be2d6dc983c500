// Command server is the process replica of the deploy controller's tests:
// it answers GET / with its GANTRY_VERSION and pid, every request with 500
// when FAIL=1, DELAY_MS milliseconds late when that is set, and shuts down gracefully on SIGTERM as a well-behaved
// service does.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	version, fail := os.Getenv("GANTRY_VERSION"), os.Getenv("FAIL") == "1"
	delay, _ := strconv.Atoi(os.Getenv("DELAY_MS"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(delay) * time.Millisecond)
		if fail {
			http.Error(w, "version="+version+" failing", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "version=%s pid=%d\n", version, os.Getpid())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		_ = srv.Shutdown(context.Background())
	}()
	_ = srv.Serve(ln)
}
