package notify

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestTextGolden(t *testing.T) {
	var b strings.Builder
	for _, kind := range Kinds() {
		e := sampleEvent(kind)
		b.WriteString("=== " + kind + "\nSubject: " + Subject(e) + "\n" + Text(e) + "\n")
	}
	odd := Event{Kind: KindRollback, Project: "p\r\nBcc: victim@example.com", App: "web",
		Reason: "line one\r\nline two\x1b[31m red\n\n", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))}
	b.WriteString("=== hostile fields\nSubject: " + Subject(odd) + "\n" + Text(odd) + "\n")
	b.WriteString("=== empty\nSubject: " + Subject(Event{}) + "\n" + Text(Event{}))
	golden(t, "text.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s", name, got)
	}
}

func TestEventJSONIsStable(t *testing.T) {
	e := sampleEvent(KindPipelineFailed)
	e.Time = time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"pipeline_failed","project":"acme/shop","ref":"main","env":"","app":"","pipeline_id":42,` +
		`"revision":0,"version":"","reason":"job \"test\" failed: exit status 1",` +
		`"url":"https://gantry.example.com/acme/shop/-/pipelines/42","time":"2026-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || !sameEvent(back, e) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestFixedAndPipelineKind(t *testing.T) {
	tests := []struct {
		prev, status string
		fixed        bool
		kind         string
	}{
		{"failed", "success", true, KindPipelineFixed},
		{"success", "success", false, ""},
		{"", "success", false, ""},
		{"canceled", "success", false, ""},
		{"failed", "failed", false, KindPipelineFailed},
		{"success", "failed", false, KindPipelineFailed},
		{"failed", "canceled", false, ""},
		{"failed", "running", false, ""},
	}
	for _, tt := range tests {
		if got := Fixed(tt.prev, tt.status); got != tt.fixed {
			t.Errorf("Fixed(%q, %q) = %v", tt.prev, tt.status, got)
		}
		kind, ok := PipelineKind(tt.prev, tt.status)
		if kind != tt.kind || ok != (tt.kind != "") {
			t.Errorf("PipelineKind(%q, %q) = %q, %v", tt.prev, tt.status, kind, ok)
		}
	}
}

func TestRedactedTarget(t *testing.T) {
	tests := []struct {
		ch   Channel
		want string
	}{
		{Channel{Type: ChannelSlack, URL: "https://hooks.slack.com/services/T0/B0/XXXX"}, "https://hooks.slack.com/REDACTED"},
		{Channel{Type: ChannelWebhook, URL: "https://u:pw@hooks.example.com:8443/gantry?token=abc&x=1", Secret: "k"},
			"https://hooks.example.com:8443/gantry?token=REDACTED&x=REDACTED"},
		{Channel{Type: ChannelWebhook, URL: "http://10.0.0.1/hook"}, "http://10.0.0.1/hook"},
		{Channel{Type: ChannelWebhook, URL: "::bad"}, "invalid-url"},
		{Channel{Type: ChannelEmail, To: []string{"Ops <ops@example.com>", "x"}}, "mailto:ops@example.com,invalid-address"},
	}
	for _, tt := range tests {
		if got := tt.ch.redacted(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.ch, got, tt.want)
		}
	}
}

func TestChannelValidate(t *testing.T) {
	tests := []struct {
		ch      Channel
		wantErr string
	}{
		{Channel{Type: ChannelSlack, URL: "https://hooks.slack.com/services/T/B/X"}, ""},
		{Channel{Type: ChannelWebhook, URL: "http://localhost:9000/x", Events: []string{KindRollback}}, ""},
		{Channel{Type: ChannelEmail, To: []string{"a@example.com", "B <b@example.com>"}}, ""},
		{Channel{Type: ChannelWebhook}, "url is required"},
		{Channel{Type: ChannelWebhook, URL: "https://h/%zz/secret"}, "does not parse"},
		{Channel{Type: ChannelSlack, URL: "file:///etc/passwd"}, `scheme "file"`},
		{Channel{Type: ChannelEmail}, "at least one recipient"},
		{Channel{Type: ChannelEmail, To: []string{"a@example.com\r\nBcc: x@y"}}, "recipient"},
		{Channel{Type: ChannelWebhook, URL: "https://h/", Events: []string{"deploy"}}, `unknown event kind "deploy"`},
		{Channel{Type: "irc"}, "unknown channel type"},
	}
	for _, tt := range tests {
		err := tt.ch.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tt.ch, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want %q", tt.ch, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error repeats the URL's secret: %v", err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999999", 365 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	base, maxWait := 100*time.Millisecond, time.Second
	for attempt := 1; attempt <= 10; attempt++ {
		nominal := min(base<<(attempt-1), maxWait)
		for range 50 {
			d := backoff(base, maxWait, attempt)
			if d < nominal/2 || d > nominal {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, nominal/2, nominal)
			}
		}
	}
}
