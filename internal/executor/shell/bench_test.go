package shell

import (
	"io"
	"os/exec"
	"testing"

	"github.com/gantry-ci/gantry/internal/executor"
)

// BenchmarkEchoJob is the cost of a whole `echo hi` job through the
// executor; compare with BenchmarkBashDirect for the executor's overhead.
func BenchmarkEchoJob(b *testing.B) {
	e := New(Options{Color: true, Sections: true})
	job := &executor.Job{Dir: b.TempDir(), Env: []string{"CI=true"}, Script: []string{"echo hi"}}
	for b.Loop() {
		res, err := e.Run(b.Context(), job, io.Discard)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("Run = %+v, %v", res, err)
		}
	}
}

// BenchmarkBashDirect is the floor: bash -c 'echo hi' with its output
// piped, as os/exec does for a non-file writer.
func BenchmarkBashDirect(b *testing.B) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Skip("bash not found")
	}
	for b.Loop() {
		cmd := exec.Command(bash, "-c", "echo hi")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
