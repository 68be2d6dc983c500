package mirror

import "sync"

// memo remembers what never changes for a commit SHA — its commit
// information and tree listing — so that planning a pipeline again (the
// server replays pipelines) runs no git process. It keeps the most recent
// entries only.
type memo[V any] struct {
	mu    sync.Mutex
	limit int
	items map[string]V
	order []string
}

func newMemo[V any](limit int) *memo[V] {
	return &memo[V]{limit: limit, items: map[string]V{}}
}

func (m *memo[V]) get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items[key]
	return v, ok
}

func (m *memo[V]) put(key string, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[key]; ok {
		return
	}
	if len(m.order) >= m.limit {
		delete(m.items, m.order[0])
		m.order = m.order[1:]
	}
	m.items[key] = v
	m.order = append(m.order, key)
}
