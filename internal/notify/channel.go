package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Channel types.
const (
	ChannelSlack   = "slack"
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Channel is one destination configured on a project.
type Channel struct {
	// Type is ChannelSlack, ChannelWebhook or ChannelEmail.
	Type string `json:"type" yaml:"type"`
	// URL is the incoming-webhook or webhook address. A Slack URL is a
	// secret in itself; it is never shown whole in delivery records.
	URL string `json:"url,omitempty" yaml:"url,omitempty"`
	// Secret is the webhook HMAC key; empty sends unsigned requests.
	Secret string `json:"secret,omitempty" yaml:"secret,omitempty"`
	// To are the e-mail recipients (RFC 5322 addresses).
	To []string `json:"to,omitempty" yaml:"to,omitempty"`
	// Events are the kinds this channel wants; empty means all.
	Events []string `json:"events,omitempty" yaml:"events,omitempty"`
}

// Wants says whether the channel subscribes to events of kind.
func (c Channel) Wants(kind string) bool {
	return len(c.Events) == 0 || slices.Contains(c.Events, kind)
}

// Validate reports a channel that could never deliver, so the server can
// refuse it when it is configured rather than fail at the first event.
func (c Channel) Validate() error {
	var errs []error
	switch c.Type {
	case ChannelSlack, ChannelWebhook:
		if err := validHTTPURL(c.URL); err != nil {
			errs = append(errs, err)
		}
		if len(c.To) > 0 {
			errs = append(errs, fmt.Errorf("%s channel takes no e-mail recipients", c.Type))
		}
	case ChannelEmail:
		if len(c.To) == 0 {
			errs = append(errs, errors.New("email channel needs at least one recipient"))
		}
		for _, to := range c.To {
			if _, err := mail.ParseAddress(to); err != nil {
				errs = append(errs, fmt.Errorf("recipient %q: %w", to, err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("unknown channel type %q (want slack, webhook or email)", c.Type))
	}
	for _, k := range c.Events {
		if !KnownKind(k) {
			errs = append(errs, fmt.Errorf("unknown event kind %q", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s channel: %w", c.Type, err)
	}
	return nil
}

func validHTTPURL(raw string) error {
	if raw == "" {
		return errors.New("url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold a token.
		return errors.New("url does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("url has no host")
	}
	return nil
}

// redacted is the channel's target as it may be shown and stored: enough
// to recognise the destination, nothing that grants access to it.
// Slack-style hook URLs carry their token in the path, so only scheme and
// host remain; other URLs lose their user info and query values.
func (c Channel) redacted() string {
	if c.Type == ChannelEmail {
		to := make([]string, 0, len(c.To))
		for _, a := range c.To {
			if p, err := mail.ParseAddress(a); err == nil {
				to = append(to, p.Address)
			} else {
				to = append(to, "invalid-address")
			}
		}
		return "mailto:" + strings.Join(to, ",")
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return "invalid-url"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host}
	if c.Type == ChannelSlack {
		if u.Path != "" && u.Path != "/" {
			r.Path = "/REDACTED"
		}
		return r.String()
	}
	r.Path = u.Path
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		r.RawQuery = q.Encode()
	}
	return r.String()
}

// SMTP is the server-wide mail relay used by e-mail channels.
type SMTP struct {
	// Addr is host:port of the relay, e.g. "smtp.example.com:587".
	Addr string `json:"addr" yaml:"addr"`
	// From is the sender address, also used for the Message-ID domain.
	From string `json:"from" yaml:"from"`
	// Username and Password, when set, authenticate with AUTH PLAIN,
	// which is only ever sent over TLS or to localhost.
	Username string `json:"username,omitempty" yaml:"username,omitempty"`
	Password string `json:"password,omitempty" yaml:"password,omitempty"`
	// StartTLS upgrades the connection when the server offers STARTTLS.
	StartTLS bool `json:"starttls,omitempty" yaml:"starttls,omitempty"`
}

// Validate reports settings that could never send mail.
func (s SMTP) Validate() error {
	if s.Addr == "" {
		return errors.New("smtp: addr is not set")
	}
	if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		return fmt.Errorf("smtp: addr: %w", err)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("smtp: from %q: %w", s.From, err)
	}
	return nil
}
