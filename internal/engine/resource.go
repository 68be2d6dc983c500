package engine

import (
	"context"
	"fmt"
	"sync"
)

// NewResourceLocker returns an in-process ResourceLocker. Share one
// between runs to keep their resource_group jobs apart too.
func NewResourceLocker() ResourceLocker {
	return &localLocker{groups: map[string]*groupLock{}}
}

type localLocker struct {
	mu     sync.Mutex
	groups map[string]*groupLock
}

// groupLock is one group's token; users counts the holders and waiters so
// that idle groups are forgotten.
type groupLock struct {
	token chan struct{}
	users int
}

// Lock waits for the group's token. Waiters are not ordered: GitLab's
// default process_mode, unordered, does not order them either.
func (l *localLocker) Lock(ctx context.Context, group string) (func(), error) {
	l.mu.Lock()
	g := l.groups[group]
	if g == nil {
		g = &groupLock{token: make(chan struct{}, 1)}
		l.groups[group] = g
	}
	g.users++
	l.mu.Unlock()

	select {
	case g.token <- struct{}{}:
		var once sync.Once
		return func() {
			once.Do(func() {
				<-g.token
				l.leave(group, g)
			})
		}, nil
	case <-ctx.Done():
		l.leave(group, g)
		return nil, fmt.Errorf("wait for resource_group %q: %w", group, context.Cause(ctx))
	}
}

func (l *localLocker) leave(group string, g *groupLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g.users--
	if g.users == 0 {
		delete(l.groups, group)
	}
}
