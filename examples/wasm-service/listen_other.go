//go:build !wasip1

package main

import (
	"fmt"
	"net"
	"os"
)

// listen binds 127.0.0.1:$PORT, the contract of a Gantry process replica.
func listen() (net.Listener, error) {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return nil, fmt.Errorf("listen on port %s: %w", port, err)
	}
	return ln, nil
}
