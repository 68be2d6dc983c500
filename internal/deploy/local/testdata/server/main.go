// Command server is the process replica the tests of package local run.
// Environment switches let a test make it misbehave: SPAWN_CHILD=1 starts
// a child in its process group, IGNORE_TERM=1 ignores SIGTERM, EXIT_CODE
// exits at once with that status.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		time.Sleep(time.Hour)
		return
	}
	if code := os.Getenv("EXIT_CODE"); code != "" {
		n, _ := strconv.Atoi(code)
		fmt.Println("exiting with", n)
		os.Exit(n)
	}
	childPID := 0
	if os.Getenv("SPAWN_CHILD") == "1" {
		child := exec.Command(os.Args[0], "child")
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn child:", err)
			os.Exit(1)
		}
		childPID = child.Process.Pid
	}
	var sick atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if sick.Load() {
			http.Error(w, "sick", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /sick", func(w http.ResponseWriter, r *http.Request) { sick.Store(true) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version=%s pid=%d child=%d\n", os.Getenv("GANTRY_VERSION"), os.Getpid(), childPID)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr())
	srv := &http.Server{Handler: mux}
	if os.Getenv("IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		go func() {
			<-term
			fmt.Println("terminating")
			_ = srv.Shutdown(context.Background())
		}()
	}
	_ = srv.Serve(ln)
}
