package notify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// slackMessage is the incoming-webhook payload. It uses "secondary"
// attachments rather than Block Kit because attachments are what the
// Slack-compatible receivers (Mattermost, Rocket.Chat, Discord's /slack
// endpoint) all render, and only attachments carry a colour bar.
type slackMessage struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback  string       `json:"fallback"`
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Fields    []slackField `json:"fields,omitempty"`
	Footer    string       `json:"footer"`
	Ts        int64        `json:"ts,omitempty"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Colour returns the colour (hex RGB) for an event kind: red for
// failures, green for good news, amber for a pause that waits for a human,
// orange for a rollback. Unknown kinds are grey.
func Colour(kind string) string {
	switch kind {
	case KindPipelineFailed, KindRolloutAborted:
		return "#d1242f"
	case KindPipelineFixed, KindRolloutPromoted:
		return "#1f883d"
	case KindRolloutPaused:
		return "#bf8700"
	case KindRollback:
		return "#bc4c00"
	}
	return "#6e7781"
}

// slackEscape escapes the three characters Slack's message formatting
// reserves, so event fields cannot forge links or mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackPayload renders e for an incoming webhook.
func slackPayload(e Event) ([]byte, error) {
	subject := Subject(e)
	text := slackEscape(subject)
	if u := oneLine(e.URL); u != "" {
		// '|' would end the link target early.
		text = "<" + slackEscape(strings.ReplaceAll(u, "|", "%7C")) + "|" + text + ">"
	}
	a := slackAttachment{
		Fallback:  subject,
		Color:     Colour(e.Kind),
		Title:     slackEscape(headline(e)),
		TitleLink: oneLine(e.URL),
		Text:      slackEscape(truncate(multiLine(e.Reason), maxFieldRunes)),
		Footer:    "Gantry",
	}
	field := func(title, value string) {
		if value != "" {
			a.Fields = append(a.Fields, slackField{Title: title, Value: slackEscape(value), Short: true})
		}
	}
	field("Project", oneLine(e.Project))
	field("Ref", oneLine(e.Ref))
	if e.PipelineID != 0 {
		field("Pipeline", fmt.Sprintf("#%d", e.PipelineID))
	}
	field("Environment", oneLine(e.Env))
	field("App", oneLine(e.App))
	if e.Revision != 0 {
		field("Revision", fmt.Sprintf("r%d", e.Revision))
	}
	field("Version", oneLine(e.Version))
	if !e.Time.IsZero() {
		a.Ts = e.Time.Unix()
	}
	b, err := json.Marshal(slackMessage{Text: text, Attachments: []slackAttachment{a}})
	if err != nil {
		return nil, permanent(fmt.Errorf("encode slack message: %w", err))
	}
	return b, nil
}
