package notify

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func emailChannel(to ...string) Channel { return Channel{Type: ChannelEmail, To: to} }

func TestEmailArrivesOnceWithWellFormedMessage(t *testing.T) {
	srv := startSMTP(t, "127.0.0.1", nil)
	n, rec, _ := newTestNotifier(t, Options{SMTP: SMTP{Addr: srv.Addr, From: "Gantry <gantry@ci.example.com>"}})
	e := sampleEvent(KindRolloutAborted)
	e.Project = "café/ünïcode-shop"
	e.Reason = "error_rate 0.12 > 0.05\nguardrail fired after 240 requests; a line that is long enough to need soft line breaks in quoted-printable encoding"

	n.Notify(context.Background(), []Channel{emailChannel("Ops Team <ops@example.com>", "dev@example.com")}, e)
	closeNotifier(t, n)

	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "gantry@ci.example.com" || !slices.Equal(got.To, []string{"ops@example.com", "dev@example.com"}) {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	for _, line := range strings.Split(got.Data, "\r\n") {
		if len(line) > 998 {
			t.Errorf("line longer than RFC 5322 allows: %d octets", len(line))
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, got.Data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subject != Subject(e) {
		t.Errorf("Subject decodes to %q (%v), want %q", subject, err, Subject(e))
	}
	if !strings.Contains(subject, "café/ünïcode-shop") || !strings.Contains(subject, "aborted") {
		t.Errorf("subject %q does not name the project and what happened", subject)
	}
	if !regexp.MustCompile(`^<[a-z0-9]+@ci\.example\.com>$`).MatchString(m.Header.Get("Message-ID")) {
		t.Errorf("Message-ID %q", m.Header.Get("Message-ID"))
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if to, err := m.Header.AddressList("To"); err != nil || len(to) != 2 || to[0].Name != "Ops Team" {
		t.Errorf("To header %q: %v", m.Header.Get("To"), err)
	}
	if m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get(HeaderEvent) != KindRolloutAborted {
		t.Errorf("headers %v", m.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(Text(e), "\n", "\r\n"); string(body) != want {
		t.Errorf("body:\n%q\nwant:\n%q", body, want)
	}

	recs := rec.All()
	if !slices.Equal(statuses(recs), []string{"delivered/1"}) {
		t.Fatalf("records %v", recs)
	}
	if recs[0].Target != "mailto:ops@example.com,dev@example.com" || recs[0].Channel != ChannelEmail {
		t.Errorf("record %+v", recs[0])
	}
}

func TestEmailAuth(t *testing.T) {
	creds := SMTP{From: "gantry@example.com", Username: "user", Password: "pw", StartTLS: true}
	tests := []struct {
		name    string
		host    string // 127.0.0.2 is loopback but not "localhost" to net/smtp
		offerTL bool
		want    string // final status
		auths   []string
	}{
		{"STARTTLS then AUTH to a remote host", "127.0.0.2", true, StatusDelivered, []string{"user:pw tls"}},
		{"no TLS offered: credentials withheld from a remote host", "127.0.0.2", false, StatusFailed, nil},
		{"plain AUTH allowed to localhost", "127.0.0.1", false, StatusDelivered, []string{"user:pw plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverTLS, clientTLS := selfSignedTLS(t, tt.host)
			srv := startSMTP(t, tt.host, func(s *smtpServer) {
				if tt.offerTL {
					s.tlsConfig = serverTLS
				}
			})
			cfg := creds
			cfg.Addr = srv.Addr
			n, rec, _ := newTestNotifier(t, Options{SMTP: cfg, TLSConfig: clientTLS})
			n.Notify(context.Background(), []Channel{emailChannel("ops@example.com")}, sampleEvent(KindRollback))
			closeNotifier(t, n)

			final := rec.Final()
			if len(final) != 1 {
				t.Fatalf("records %v", rec.All())
			}
			for _, d := range final {
				if d.Status != tt.want {
					t.Fatalf("status %s (%s), want %s", d.Status, d.Error, tt.want)
				}
				if tt.want == StatusFailed && (d.Attempt != 1 || !strings.Contains(d.Error, "unencrypted")) {
					t.Errorf("want one attempt refused for an unencrypted connection, got %+v", d)
				}
			}
			if got := srv.Auths(); !slices.Equal(got, tt.auths) {
				t.Errorf("server saw AUTH %q, want %q", got, tt.auths)
			}
			wantMsgs := map[bool]int{true: 1, false: 0}[tt.want == StatusDelivered]
			if got := len(srv.Messages()); got != wantMsgs {
				t.Errorf("server received %d messages, want %d", got, wantMsgs)
			}
			if wantMsgs == 1 && srv.Messages()[0].TLS != tt.offerTL {
				t.Errorf("message over TLS = %v, want %v", srv.Messages()[0].TLS, tt.offerTL)
			}
		})
	}
}

func TestEmailReplies(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*smtpServer)
		statuses []string
		messages int
	}{
		{"rejected recipient is not retried", func(s *smtpServer) { s.rcptReply = "550 5.1.1 no such user" },
			[]string{"failed/1"}, 0},
		{"temporary failure is retried", func(s *smtpServer) { s.dataReplies = []string{"451 4.3.0 try again later"} },
			[]string{"retrying/1", "delivered/2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, "127.0.0.1", tt.setup)
			n, rec, _ := newTestNotifier(t, Options{SMTP: SMTP{Addr: srv.Addr, From: "gantry@example.com"}})
			n.Notify(context.Background(), []Channel{emailChannel("ops@example.com")}, sampleEvent(KindPipelineFailed))
			closeNotifier(t, n)
			if got := statuses(rec.All()); !slices.Equal(got, tt.statuses) {
				t.Errorf("records %v, want %v (%+v)", got, tt.statuses, rec.All())
			}
			if got := len(srv.Messages()); got != tt.messages {
				t.Errorf("server accepted %d messages, want %d", got, tt.messages)
			}
		})
	}
}

func TestEmailWithoutSMTPSettingsFails(t *testing.T) {
	n, rec, _ := newTestNotifier(t, Options{})
	n.Notify(context.Background(), []Channel{emailChannel("ops@example.com")}, sampleEvent(KindPipelineFailed))
	closeNotifier(t, n)
	recs := rec.All()
	if len(recs) != 1 || recs[0].Status != StatusFailed || !strings.Contains(recs[0].Error, "smtp") {
		t.Fatalf("records %+v", recs)
	}
}

func TestEmailServerGoneIsRetried(t *testing.T) {
	srv := startSMTP(t, "127.0.0.1", nil)
	addr := srv.Addr
	srv.ln.Close()
	n, rec, clock := newTestNotifier(t, Options{SMTP: SMTP{Addr: addr, From: "gantry@example.com"}, MaxAttempts: 3,
		BackoffBase: 10 * time.Millisecond})
	n.Notify(context.Background(), []Channel{emailChannel("ops@example.com")}, sampleEvent(KindPipelineFailed))
	closeNotifier(t, n)
	if got := statuses(rec.All()); !slices.Equal(got, []string{"retrying/1", "retrying/2", "failed/3"}) {
		t.Errorf("records %v", got)
	}
	if len(clock.Sleeps()) != 2 {
		t.Errorf("waited %v between attempts", clock.Sleeps())
	}
}
