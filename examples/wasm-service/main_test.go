package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildNative builds the service for this machine, as a process replica
// would run it.
func buildNative(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wasm-service")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestServesOneCGIRequestWhenRequestMethodIsSet(t *testing.T) {
	bin := buildNative(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD=POST",
		"PATH_INFO=/echo", "QUERY_STRING=a=1", "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=5",
		"HTTP_X_REQUEST_ID=req-7", "GANTRY_VERSION=v9",
	}
	cmd.Stdin = strings.NewReader("hello")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run CGI request: %v", err)
	}
	br := bufio.NewReader(strings.NewReader(string(out)))
	hdr, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("parse CGI output %q: %v", out, err)
	}
	body, _ := io.ReadAll(br)
	if hdr.Get("Status") != "200 OK" || string(body) != "hello" {
		t.Errorf("CGI output = %q", out)
	}
	for k, want := range map[string]string{"X-Request-Id": "req-7", "X-Echo-Query": "a=1", "X-Gantry-Version": "v9", "Content-Type": "text/plain"} {
		if got := hdr.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestListensOnPortWithoutCGI(t *testing.T) {
	bin := buildNative(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = []string{fmt.Sprintf("PORT=%d", port), "GANTRY_VERSION=v3"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `"GANTRY_VERSION":"v3"`) {
				t.Errorf("GET / = %q", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service never answered on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
