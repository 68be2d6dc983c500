package blob

import (
	"context"
	"sync"
)

// keyLocks serialises writers of the same key while leaving other keys
// free. Entries live only while someone holds or waits for them, so the map
// stays as small as the number of keys being written right now.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	// sem is a one-slot semaphore rather than a sync.Mutex so a waiter can
	// give up when its request is cancelled.
	sem  chan struct{}
	refs int
}

// lock waits for key's lock and returns the function that releases it.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	kl := l.m[key]
	if kl == nil {
		kl = &keyLock{sem: make(chan struct{}, 1)}
		l.m[key] = kl
	}
	kl.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		kl.refs--
		if kl.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case kl.sem <- struct{}{}:
		return func() {
			<-kl.sem
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
