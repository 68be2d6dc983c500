//go:build wasip1

package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// preopenedFD is where wazero's WithTCPListener puts the first listener:
// after stdin, stdout and stderr, as there are no pre-opened directories.
const preopenedFD = 3

// listen returns the TCP socket the host pre-opened. It is switched to
// non-blocking first: os.NewFile only registers a non-blocking descriptor
// with the runtime's poller, and a blocking accept would stop every
// goroutine of the single-threaded wasm program.
func listen() (net.Listener, error) {
	if err := syscall.SetNonblock(preopenedFD, true); err != nil {
		return nil, fmt.Errorf("set pre-opened listener fd %d non-blocking: %w", preopenedFD, err)
	}
	ln, err := net.FileListener(os.NewFile(preopenedFD, "listener"))
	if err != nil {
		return nil, fmt.Errorf("use pre-opened listener fd %d: %w", preopenedFD, err)
	}
	return ln, nil
}
