package notify

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkNotifyWebhook measures end-to-end throughput: Notify, signing,
// POST to a loopback receiver, recording, for b.N events.
func BenchmarkNotifyWebhook(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	n := New(Options{QueueSize: b.N + 1, Logger: slog.New(slog.DiscardHandler),
		Record: func(context.Context, Delivery) error { return nil }})
	ch := []Channel{{Type: ChannelWebhook, URL: srv.URL, Secret: "k"}}
	e := sampleEvent(KindRolloutAborted)
	b.ResetTimer()
	for range b.N {
		n.Notify(context.Background(), ch, e)
	}
	if err := n.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRender measures formatting one event for every channel type.
func BenchmarkRender(b *testing.B) {
	e := sampleEvent(KindRolloutAborted)
	cfg := SMTP{From: "gantry@example.com"}
	for range b.N {
		if _, err := slackPayload(e); err != nil {
			b.Fatal(err)
		}
		if _, err := e.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
		if _, err := buildMail(cfg, []string{"ops@example.com"}, e, e.Time); err != nil {
			b.Fatal(err)
		}
	}
}
