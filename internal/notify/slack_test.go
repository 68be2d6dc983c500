package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestSlackMessage(t *testing.T) {
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			recv := startReceiver(t)
			n, rec, _ := newTestNotifier(t, Options{})
			e := sampleEvent(kind)
			n.Notify(context.Background(), []Channel{{Type: ChannelSlack, URL: recv.URL + "/services/T0/B0/XYZ"}}, e)
			closeNotifier(t, n)

			reqs := recv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests", len(reqs))
			}
			var msg struct {
				Text        string `json:"text"`
				Attachments []struct {
					Color, Title, TitleLink, Text string
					Fields                        []struct{ Title, Value string }
				} `json:"attachments"`
			}
			if err := json.Unmarshal(reqs[0].Body, &msg); err != nil {
				t.Fatalf("payload %s: %v", reqs[0].Body, err)
			}
			if msg.Text != "<"+e.URL+"|"+Subject(e)+">" {
				t.Errorf("text %q", msg.Text)
			}
			if len(msg.Attachments) != 1 || msg.Attachments[0].Color != Colour(kind) {
				t.Fatalf("attachments %+v", msg.Attachments)
			}
			if msg.Attachments[0].Text != slackEscape(e.Reason) {
				t.Errorf("attachment text %q, want the reason %q", msg.Attachments[0].Text, e.Reason)
			}
			fields := map[string]string{}
			for _, f := range msg.Attachments[0].Fields {
				fields[f.Title] = f.Value
			}
			if fields["Project"] != "acme/shop" {
				t.Errorf("fields %v", fields)
			}
			if d := rec.All(); len(d) != 1 || d[0].Target != recv.URL+"/REDACTED" {
				t.Errorf("records %+v", d)
			}
		})
	}
}

func TestSlackColoursDiffer(t *testing.T) {
	if Colour(KindPipelineFailed) == Colour(KindPipelineFixed) || Colour(KindRolloutPaused) == Colour(KindRolloutPromoted) {
		t.Error("good and bad news share a colour")
	}
}

func TestSlackEscapesFields(t *testing.T) {
	e := sampleEvent(KindPipelineFailed)
	e.Project = "<!channel> & co"
	e.Reason = "see <https://evil.example|here>"
	e.URL = "https://gantry.example.com/a|b"
	b, err := slackPayload(e)
	if err != nil {
		t.Fatal(err)
	}
	var msg slackMessage
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	all := msg.Text + msg.Attachments[0].Text + msg.Attachments[0].Title
	for _, f := range msg.Attachments[0].Fields {
		all += f.Value
	}
	if strings.Contains(all, "<!channel>") || strings.Contains(all, "<https://evil") {
		t.Errorf("event fields reach Slack unescaped: %s", b)
	}
	if !strings.HasPrefix(msg.Text, "<https://gantry.example.com/a%7Cb|[&lt;!channel&gt; &amp; co]") {
		t.Errorf("text %q", msg.Text)
	}
}
