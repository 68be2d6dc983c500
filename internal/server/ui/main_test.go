package ui_test

import (
	"os"
	"testing"

	"github.com/gantry-ci/gantry/internal/workspace"
)

// TestMain lets the test binary act as the built-in runner's job sandbox,
// which re-executes the running binary.
func TestMain(m *testing.M) {
	workspace.MaybeRunSandbox()
	os.Exit(m.Run())
}
