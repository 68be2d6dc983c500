package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// webhookRequest is what a receiver saw.
type webhookRequest struct {
	Event, Delivery, Signature string
	Body                       []byte
}

// webhookReceiver answers with the given statuses in turn (then 200) and
// keeps every request.
type webhookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []func(http.ResponseWriter)
	requests []webhookRequest
}

func startReceiver(t *testing.T, answers ...func(http.ResponseWriter)) *webhookReceiver {
	t.Helper()
	r := &webhookReceiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, webhookRequest{
			Event: req.Header.Get("X-Gantry-Event"), Delivery: req.Header.Get("X-Gantry-Delivery"),
			Signature: req.Header.Get("X-Gantry-Signature-256"), Body: body})
		answer := func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
		if len(r.answers) > 0 {
			answer, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *webhookReceiver) Requests() []webhookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

// verify checks the signature the way the package documentation tells a
// receiver to, without using this package's helpers.
func verify(secret string, body []byte, header string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}

func TestWebhookSignedPayload(t *testing.T) {
	recv := startReceiver(t)
	n, rec, _ := newTestNotifier(t, Options{})
	e := sampleEvent(KindRolloutPromoted)
	n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL + "/hook", Secret: "s3cret"}}, e)
	closeNotifier(t, n)

	reqs := recv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !verify("s3cret", r.Body, r.Signature) {
		t.Errorf("signature %q does not verify", r.Signature)
	}
	if verify("wrong", r.Body, r.Signature) {
		t.Error("signature verifies with the wrong secret")
	}
	if !VerifySignature("s3cret", r.Body, r.Signature) {
		t.Error("VerifySignature rejects a genuine request")
	}
	if r.Event != KindRolloutPromoted {
		t.Errorf("X-Gantry-Event %q", r.Event)
	}
	var got Event
	if err := json.Unmarshal(r.Body, &got); err != nil || !sameEvent(got, e) {
		t.Errorf("payload %s decodes to %+v (%v)", r.Body, got, err)
	}
	recs := rec.All()
	if len(recs) != 1 || recs[0].Status != StatusDelivered || recs[0].ID != r.Delivery || r.Delivery == "" {
		t.Errorf("records %+v, delivery header %q", recs, r.Delivery)
	}
}

func TestWebhookWithoutSecretIsUnsigned(t *testing.T) {
	recv := startReceiver(t)
	n, _, _ := newTestNotifier(t, Options{})
	n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL}}, sampleEvent(KindPipelineFailed))
	closeNotifier(t, n)
	if reqs := recv.Requests(); len(reqs) != 1 || reqs[0].Signature != "" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestWebhookRetries(t *testing.T) {
	base := 100 * time.Millisecond
	tests := []struct {
		name     string
		answers  []func(http.ResponseWriter)
		statuses []string
		sleeps   func(t *testing.T, s []time.Duration)
	}{
		{
			name:     "server errors then success: delivered on attempt 3",
			answers:  []func(http.ResponseWriter){status(500), status(500), status(200)},
			statuses: []string{"retrying/1", "retrying/2", "delivered/3"},
			sleeps: func(t *testing.T, s []time.Duration) {
				if len(s) != 2 || s[0] < base/2 || s[0] > base || s[1] < base || s[1] > 2*base {
					t.Errorf("waits %v, want exponential backoff with jitter from %v", s, base)
				}
			},
		},
		{
			name:     "client error is not retried",
			answers:  []func(http.ResponseWriter){status(400)},
			statuses: []string{"failed/1"},
		},
		{
			name:     "429 Retry-After in seconds is honoured",
			answers:  []func(http.ResponseWriter){status(429, "Retry-After", "7")},
			statuses: []string{"retrying/1", "delivered/2"},
			sleeps: func(t *testing.T, s []time.Duration) {
				if !slices.Equal(s, []time.Duration{7 * time.Second}) {
					t.Errorf("waits %v, want [7s]", s)
				}
			},
		},
		{
			name: "503 Retry-After as an HTTP date is honoured",
			answers: []func(http.ResponseWriter){status(503, "Retry-After",
				newFakeClock().Now().Add(90*time.Second).Format(http.TimeFormat))},
			statuses: []string{"retrying/1", "delivered/2"},
			sleeps: func(t *testing.T, s []time.Duration) {
				if !slices.Equal(s, []time.Duration{90 * time.Second}) {
					t.Errorf("waits %v, want [1m30s]", s)
				}
			},
		},
		{
			name:     "Retry-After beyond the limit fails at once",
			answers:  []func(http.ResponseWriter){status(429, "Retry-After", "86400")},
			statuses: []string{"failed/1"},
		},
		{
			name:     "gives up after MaxAttempts",
			answers:  []func(http.ResponseWriter){status(502), status(502), status(502), status(502)},
			statuses: []string{"retrying/1", "retrying/2", "failed/3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recv := startReceiver(t, tt.answers...)
			n, rec, clock := newTestNotifier(t, Options{BackoffBase: base, MaxAttempts: 3})
			n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL, Secret: "k"}}, sampleEvent(KindPipelineFailed))
			closeNotifier(t, n)

			recs := rec.All()
			if got := statuses(recs); !slices.Equal(got, tt.statuses) {
				t.Fatalf("records %v, want %v (%+v)", got, tt.statuses, recs)
			}
			reqs := recv.Requests()
			if len(reqs) != len(tt.statuses) {
				t.Errorf("receiver got %d requests, want %d", len(reqs), len(tt.statuses))
			}
			for _, r := range reqs {
				if r.Delivery != recs[0].ID || !verify("k", r.Body, r.Signature) {
					t.Errorf("retry is not the same signed delivery: %+v", r)
				}
			}
			last := recs[len(recs)-1]
			if last.Status == StatusFailed && last.Error == "" {
				t.Error("failed delivery has no error")
			}
			if tt.sleeps != nil {
				tt.sleeps(t, clock.Sleeps())
			}
		})
	}
}

func TestWebhookRealBackoff(t *testing.T) {
	recv := startReceiver(t, status(500), status(500))
	n, rec, _ := newTestNotifier(t, Options{Clock: realClock{}, BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond})
	n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL}}, sampleEvent(KindPipelineFixed))
	closeNotifier(t, n)
	if got := statuses(rec.All()); !slices.Equal(got, []string{"retrying/1", "retrying/2", "delivered/3"}) {
		t.Fatalf("records %v", got)
	}
}

func TestUnreachableReceiverIsRetriedAndSecretsStayOut(t *testing.T) {
	recv := startReceiver(t)
	url := recv.URL + "/hooks/abc?token=tok3n"
	recv.Close()
	n, rec, _ := newTestNotifier(t, Options{MaxAttempts: 2})
	n.Notify(context.Background(), []Channel{
		{Type: ChannelWebhook, URL: url},
		{Type: ChannelSlack, URL: strings.Replace(url, "/hooks/abc", "/services/T0/B0/xoxsecret", 1)},
	}, sampleEvent(KindRollback))
	closeNotifier(t, n)
	recs := rec.All()
	if got := statuses(recs); len(got) != 4 {
		t.Fatalf("records %v", got)
	}
	for _, d := range recs {
		if d.Attempt == 2 && d.Status != StatusFailed {
			t.Errorf("attempt 2: %+v", d)
		}
		for _, secret := range []string{"tok3n", "xoxsecret"} {
			if strings.Contains(d.Error, secret) || strings.Contains(d.Target, secret) {
				t.Errorf("record leaks %q: %+v", secret, d)
			}
		}
	}
}

// sameEvent compares events with times compared as instants.
func sameEvent(a, b Event) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b
}

func TestRedirectIsNotFollowed(t *testing.T) {
	recv := startReceiver(t, func(w http.ResponseWriter) {
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	})
	n, rec, _ := newTestNotifier(t, Options{})
	n.Notify(context.Background(), []Channel{{Type: ChannelWebhook, URL: recv.URL}}, sampleEvent(KindPipelineFailed))
	closeNotifier(t, n)
	recs := rec.All()
	if got := statuses(recs); !slices.Equal(got, []string{"failed/1"}) || !strings.Contains(recs[0].Error, "302") {
		t.Errorf("records %+v", recs)
	}
	if len(recv.Requests()) != 1 {
		t.Errorf("receiver got %d requests; the redirect was followed", len(recv.Requests()))
	}
}
