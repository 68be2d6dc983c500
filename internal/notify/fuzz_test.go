package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func FuzzEventJSON(f *testing.F) {
	for _, k := range Kinds() {
		b, _ := json.Marshal(sampleEvent(k))
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"rollback","time":"2026-01-02T03:04:05+09:00","revision":-1,"reason":"\u0000\ud800"}`))
	f.Add([]byte(`{"pipeline_id":1e3}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"time":"0000-01-01T00:00:00Z","url":"<a>&"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			return
		}
		b1, err := json.Marshal(e)
		if err != nil {
			// Only times outside years 0..9999 cannot be encoded.
			if e.Time.Year() >= 0 && e.Time.Year() <= 9999 {
				t.Fatalf("decoded event does not encode: %v", err)
			}
			return
		}
		var back Event
		if err := json.Unmarshal(b1, &back); err != nil {
			t.Fatalf("own encoding %s does not decode: %v", b1, err)
		}
		if !sameEvent(back, e) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, back)
		}
		b2, _ := json.Marshal(back)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b1, b2)
		}
	})
}

func FuzzText(f *testing.F) {
	f.Add(KindRollback, "acme/shop", "main", "production", "shop", "v1", "bad\r\nthings", "https://x/|y", int64(42), 7)
	f.Add("", "", "", "", "", "", "", "", int64(0), 0)
	f.Add(KindPipelineFailed, "=?utf-8?q?x?=", "\xff\x00", "\u2028", "<!here>", "&", strings.Repeat("é", 3000), "", int64(-1), -3)
	f.Add(KindRolloutPaused, strings.Repeat("ü ", 300), "r", "e", "a", "v", ".\r\n.\r\n", "u", int64(1), 1)
	f.Fuzz(func(t *testing.T, kind, project, ref, env, app, version, reason, url string, id int64, rev int) {
		e := Event{Kind: kind, Project: project, Ref: ref, Env: env, App: app, Version: version,
			Reason: reason, URL: url, PipelineID: id, Revision: rev, Time: time.Unix(1767322800, 0)}

		s := Subject(e)
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxSubjectRunes {
			t.Fatalf("subject %q is invalid or too long", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("subject %q contains control character %U", s, r)
			}
		}
		text := Text(e)
		if !utf8.ValidString(text) || !strings.HasSuffix(text, "\n") {
			t.Fatalf("text %q is not valid UTF-8 ending in a newline", text)
		}
		for _, r := range text {
			if unicode.IsControl(r) && r != '\n' {
				t.Fatalf("text contains control character %U", r)
			}
		}

		payload, err := slackPayload(e)
		if err != nil {
			t.Fatal(err)
		}
		var msg slackMessage
		if err := json.Unmarshal(payload, &msg); err != nil || len(msg.Attachments) != 1 {
			t.Fatalf("slack payload %s: %v", payload, err)
		}
		a := msg.Attachments[0]
		for _, v := range append([]string{a.Title, a.Text}, fieldValues(a.Fields)...) {
			if strings.ContainsAny(v, "<>") {
				t.Fatalf("unescaped Slack markup in %q", v)
			}
		}

		m, err := buildMail(SMTP{From: "gantry@example.com"}, []string{"ops@example.com"}, e, e.Time)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(m.data), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("mail line of %d octets", len(line))
			}
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(m.data))
		if err != nil {
			t.Fatalf("mail does not parse: %v", err)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if want := strings.ReplaceAll(s, "=?", "= ?"); err != nil || subj != want {
			t.Fatalf("subject decodes to %q (%v), want %q", subj, err, want)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
		if err != nil || string(body) != strings.ReplaceAll(text, "\n", "\r\n") {
			t.Fatalf("body decodes to %q (%v)", body, err)
		}
	})
}

func fieldValues(fs []slackField) []string {
	var v []string
	for _, f := range fs {
		v = append(v, f.Value)
	}
	return v
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1e9", "", "Sunday, 06-Nov-94 08:49:37 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", s, d, ok)
		}
		if ok && d%time.Second != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v: not whole seconds", s, d)
		}
	})
}
