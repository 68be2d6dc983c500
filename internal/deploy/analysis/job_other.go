//go:build !unix

package analysis

import "os/exec"

// killGroup leaves the default: without process groups, cancelling kills
// the command itself.
func killGroup(*exec.Cmd) {}
