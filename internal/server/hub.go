package server

import "sync"

// hub wakes goroutines of this process waiting for something to change:
// a runner long-polling for work, the coordinator waiting for a job to
// end, a live view waiting for events or log bytes. It carries no data —
// waiters read the store — so a missed wake-up only costs the waiter's
// poll interval, which also covers changes made by other server processes.
type hub struct {
	mu     sync.Mutex
	topics map[string]chan struct{}
}

func newHub() *hub { return &hub{topics: map[string]chan struct{}{}} }

// wait returns a channel closed by the next notify of topic. Take it
// before reading the state it guards, so a change in between is not lost.
func (h *hub) wait(topic string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.topics[topic]
	if !ok {
		ch = make(chan struct{})
		h.topics[topic] = ch
	}
	return ch
}

// notify wakes every waiter of topic.
func (h *hub) notify(topic string) {
	h.mu.Lock()
	ch, ok := h.topics[topic]
	delete(h.topics, topic)
	h.mu.Unlock()
	if ok {
		close(ch)
	}
}

// Topics.
const (
	topicQueue  = "queue"  // a job became pending
	topicEvents = "events" // an event was appended
	topicCoord  = "coord"  // a pipeline needs coordination
)

func topicJob(id int64) string { return "job/" + itoa(id) }
func topicLog(id int64) string { return "log/" + itoa(id) }
