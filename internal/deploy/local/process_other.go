//go:build !linux

package local

import (
	"context"
	"errors"
	"os"
)

// processInstance is unavailable here: keeping no orphans relies on
// Linux's waitid(WNOWAIT) and process groups.
type processInstance struct{}

func startProcess(*forker, ReplicaSpec, []string, *os.File, int) (*processInstance, error) {
	return nil, errors.New("process replicas are only supported on Linux")
}

func (p *processInstance) endpoint() string        { return "" }
func (p *processInstance) pid() int                { return 0 }
func (p *processInstance) exited() <-chan struct{} { return nil }
func (p *processInstance) exitErr() error          { return nil }
func (p *processInstance) stop(context.Context)    {}

// forker has nothing to do where process replicas are unsupported.
type forker struct{}

func newForker() *forker { return &forker{} }
func (f *forker) close() {}
