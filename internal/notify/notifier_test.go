package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestChannelEventFilter(t *testing.T) {
	recv := startReceiver(t)
	n, _, _ := newTestNotifier(t, Options{})
	chans := []Channel{
		{Type: ChannelWebhook, URL: recv.URL + "/failures", Events: []string{KindPipelineFailed, KindRolloutAborted}},
		{Type: ChannelWebhook, URL: recv.URL + "/all"},
	}
	for _, k := range Kinds() {
		n.Notify(context.Background(), chans, sampleEvent(k))
	}
	closeNotifier(t, n)
	var got []string
	for _, r := range recv.Requests() {
		got = append(got, r.Event)
	}
	slices.Sort(got)
	want := append(Kinds(), KindPipelineFailed, KindRolloutAborted)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

func TestInvalidChannelOrEventIsRecordedNotSent(t *testing.T) {
	recv := startReceiver(t)
	n, rec, _ := newTestNotifier(t, Options{})
	n.Notify(context.Background(), []Channel{
		{Type: "pager", URL: recv.URL},
		{Type: ChannelWebhook, URL: "ftp://example.com/x"},
		{Type: ChannelEmail, To: []string{"not an address"}},
	}, sampleEvent(KindPipelineFailed))
	n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL}}, Event{Kind: "deployed", Project: "p"})
	closeNotifier(t, n)
	recs := rec.All()
	if got := statuses(recs); !slices.Equal(got, []string{"failed/0", "failed/0", "failed/0", "failed/0"}) {
		t.Fatalf("records %v", got)
	}
	for _, d := range recs {
		if d.Error == "" {
			t.Errorf("no reason given: %+v", d)
		}
	}
	if len(recv.Requests()) != 0 {
		t.Error("invalid notifications were sent")
	}
}

// blockingReceiver holds every request until release is called or the
// client gives up, and reports each arrival on arrived.
func blockingReceiver(t *testing.T) (url string, arrived chan string, release func()) {
	arrived, done := make(chan string, 100), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get(HeaderEvent)
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(release)
	return srv.URL, arrived, release
}

func TestFullQueueIsRecordedAsFailed(t *testing.T) {
	url, arrived, release := blockingReceiver(t)
	n, rec, _ := newTestNotifier(t, Options{Workers: 1, QueueSize: 1})
	ch := []Channel{{Type: ChannelWebhook, URL: url}}
	n.Notify(context.Background(), ch, sampleEvent(KindPipelineFailed))
	<-arrived                                                           // the only worker is now busy
	n.Notify(context.Background(), ch, sampleEvent(KindRolloutPaused))  // waits in the queue
	n.Notify(context.Background(), ch, sampleEvent(KindRolloutAborted)) // no room
	release()
	closeNotifier(t, n)

	byKind := map[string]Delivery{}
	for _, d := range rec.Final() {
		byKind[d.Event] = d
	}
	if d := byKind[KindRolloutAborted]; d.Status != StatusFailed || d.Error != ErrQueueFull.Error() {
		t.Errorf("overflowing delivery recorded as %+v", d)
	}
	for _, k := range []string{KindPipelineFailed, KindRolloutPaused} {
		if byKind[k].Status != StatusDelivered {
			t.Errorf("%s: %+v", k, byKind[k])
		}
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	recv := startReceiver(t, status(500))
	n, rec, _ := newTestNotifier(t, Options{Workers: 1, Clock: realClock{}, BackoffBase: time.Millisecond})
	ch := []Channel{{Type: ChannelWebhook, URL: recv.URL}}
	for range 20 {
		n.Notify(context.Background(), ch, sampleEvent(KindPipelineFailed))
	}
	closeNotifier(t, n)
	final := rec.Final()
	if len(final) != 20 {
		t.Fatalf("%d deliveries finished when Close returned, want 20", len(final))
	}
	for _, d := range final {
		if d.Status != StatusDelivered {
			t.Errorf("%+v", d)
		}
	}
	n.Notify(context.Background(), ch, sampleEvent(KindPipelineFixed))
	if d := rec.All()[len(rec.All())-1]; d.Status != StatusFailed || d.Event != KindPipelineFixed || d.Error != ErrClosed.Error() {
		t.Errorf("notify after Close recorded as %+v", d)
	}
	if len(recv.Requests()) != 21 {
		t.Errorf("receiver got %d requests, want 21", len(recv.Requests()))
	}
}

func TestCloseTimeoutFailsWhatRemains(t *testing.T) {
	url, arrived, _ := blockingReceiver(t)
	n, rec, _ := newTestNotifier(t, Options{Workers: 1})
	ch := []Channel{{Type: ChannelWebhook, URL: url}}
	n.Notify(context.Background(), ch, sampleEvent(KindPipelineFailed))
	<-arrived
	n.Notify(context.Background(), ch, sampleEvent(KindRolloutPaused))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	if got := statuses(rec.All()); !slices.Equal(got, []string{"failed/1", "failed/0"}) {
		t.Fatalf("records %v: want the in-flight attempt and the queued delivery failed (%+v)", got, rec.All())
	}
	for _, d := range rec.All() {
		if !strings.Contains(d.Error, ErrClosed.Error()) {
			t.Errorf("%+v", d)
		}
	}
}

func TestConcurrentNotifyArrivesOnce(t *testing.T) {
	var mu sync.Mutex
	delivered, refused := map[string]int{}, map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var key string
		if r.Header.Get(HeaderEvent) != "" {
			var e Event
			if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
				t.Errorf("decode webhook: %v", err)
			}
			key = "webhook " + e.Reason
		} else {
			var m slackMessage
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil || len(m.Attachments) != 1 {
				t.Errorf("decode slack: %v", err)
				return
			}
			key = "slack " + m.Attachments[0].Text
		}
		mu.Lock()
		defer mu.Unlock()
		// Refuse the first try of every tenth event, so retries run
		// concurrently with first attempts.
		if strings.HasSuffix(key, "0") && !refused[key] {
			refused[key] = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered[key]++
	}))
	t.Cleanup(srv.Close)
	n, rec, _ := newTestNotifier(t, Options{QueueSize: 1000})
	ch := []Channel{{Type: ChannelWebhook, URL: srv.URL, Secret: "k"}, {Type: ChannelSlack, URL: srv.URL}}
	const senders, each = 8, 25
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				e := sampleEvent(KindRolloutAborted)
				e.Reason = fmt.Sprintf("sender %d event %d", s, i)
				n.Notify(context.Background(), ch, e)
			}
		})
	}
	wg.Wait()
	closeNotifier(t, n)
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 2*senders*each {
		t.Errorf("%d distinct notifications arrived, want %d", len(delivered), 2*senders*each)
	}
	for k, c := range delivered {
		if c != 1 {
			t.Errorf("%s arrived %d times", k, c)
		}
	}
	if len(refused) == 0 {
		t.Error("no retries exercised")
	}
	for _, d := range rec.Final() {
		if d.Status != StatusDelivered {
			t.Errorf("%+v", d)
		}
	}
}
