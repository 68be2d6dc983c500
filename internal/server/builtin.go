package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/runner"
)

// The runner of `gantry server` itself speaks the same HTTP protocol as
// remote runners, over loopback, so there is one path to trust. It is
// named after the server's address (several servers may share one
// database) and its token is made anew at every start.

// startBuiltinRunners registers the built-in runner and runs it until ctx
// ends; the returned channel closes once its jobs have been reported.
func (s *Server) startBuiltinRunners(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.cfg.Runners < 0 {
		close(done)
		return done
	}
	name := "builtin@" + s.ln.Addr().String()
	rs, err := s.store.ListRunners(ctx)
	if err == nil {
		for _, r := range rs {
			if r.Name == name {
				_ = s.store.DeleteRunner(ctx, r.ID)
			}
		}
	}
	_, tok, err := s.registerRunner(ctx, runnerBody{Name: name, Concurrency: s.cfg.Runners})
	if err != nil {
		s.log.Error("register the built-in runner", "err", err)
		close(done)
		return done
	}
	dir := filepath.Join(s.cfg.Data, "runners", strings.NewReplacer(":", "_", "[", "", "]", "").Replace(s.ln.Addr().String()))
	_ = os.MkdirAll(dir, 0o700)
	go func() {
		defer close(done)
		err := runner.Run(ctx, runner.Config{
			Server:      "http://" + s.ln.Addr().String(),
			Token:       tok,
			Concurrency: s.cfg.Runners,
			Dir:         dir,
			Name:        name,
			Logger:      s.log.With("runner", name),
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("built-in runner stopped", "err", err)
		}
	}()
	return done
}
