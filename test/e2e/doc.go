// Package e2e holds Gantry's end-to-end tests: they build the real gantry
// binary once and run it as a user would, in throwaway git repositories,
// asserting only on what a user can see (exit codes, printed lines, JSON
// events, files under .gantry/runs). The package has no code of its own;
// it exists so that `go test ./test/e2e` finds the tests.
package e2e
