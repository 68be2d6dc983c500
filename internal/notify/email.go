package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// mailMessage is one rendered e-mail: built once per delivery so every
// retry carries the same Message-ID and receiving servers can discard a
// copy that did arrive although the session failed afterwards.
type mailMessage struct {
	from *mail.Address
	to   []*mail.Address
	data []byte
}

// buildMail renders e as a plain-text RFC 5322 message.
func buildMail(cfg SMTP, recipients []string, e Event, now time.Time) (*mailMessage, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, permanent(fmt.Errorf("smtp from %q: %w", cfg.From, err))
	}
	m := &mailMessage{from: from}
	to := make([]string, 0, len(recipients))
	for _, r := range recipients {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return nil, permanent(fmt.Errorf("recipient %q: %w", r, err))
		}
		m.to = append(m.to, a)
		to = append(to, a.String())
	}
	if len(m.to) == 0 {
		return nil, permanent(errors.New("no recipients"))
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String())
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", encodeSubject(Subject(e)))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+strings.ToLower(rand.Text())+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	// RFC 3834: keeps vacation responders from answering the robot.
	header("Auto-Submitted", "auto-generated")
	header(HeaderEvent, oneLine(e.Kind))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(Text(e))); err != nil {
		return nil, permanent(fmt.Errorf("encode mail body: %w", err))
	}
	if err := qp.Close(); err != nil {
		return nil, permanent(fmt.Errorf("encode mail body: %w", err))
	}
	m.data = b.Bytes()
	return m, nil
}

// encodeSubject makes a header value of a one-line subject: RFC 2047
// encoded when not plain ASCII, folded between encoded words so no line
// exceeds RFC 5322's limit. A literal "=?" would be read back as the
// start of an encoded word, so it gets a space.
func encodeSubject(s string) string {
	s = strings.ReplaceAll(s, "=?", "= ?")
	enc := mime.QEncoding.Encode("utf-8", s)
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// sendMail delivers m through the relay in cfg, upgrading to TLS when
// asked and offered. AUTH PLAIN is left to net/smtp, which refuses to send
// credentials over a plain connection to anything but localhost.
func sendMail(ctx context.Context, cfg SMTP, tlsConfig *tls.Config, m *mailMessage) error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return permanent(fmt.Errorf("smtp addr %q: %w", cfg.Addr, err))
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("connect to smtp server: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// net/smtp knows no contexts; closing the connection unblocks it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(localName()); err != nil {
		return smtpError("EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && cfg.StartTLS {
		tc := &tls.Config{}
		if tlsConfig != nil {
			tc = tlsConfig.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		if err := c.StartTLS(tc); err != nil {
			return smtpError("STARTTLS", err)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(errors.New("smtp: credentials are configured but the server offers no AUTH"))
		}
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return permanent(fmt.Errorf("smtp AUTH: %w", err))
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	for _, to := range m.to {
		if err := c.Rcpt(to.Address); err != nil {
			return smtpError("RCPT TO "+to.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(m.data); err != nil {
		return smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("end of DATA", err)
	}
	// The message is accepted once DATA ends; a failed QUIT must not make
	// the notifier send it again.
	_ = c.Quit()
	return nil
}

// smtpError says what failed and whether it is worth retrying: 5xx
// replies and certificate problems are permanent, 4xx replies and
// connection trouble are not.
func smtpError(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(err)
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return permanent(err)
	}
	return err
}

// localName is the name given in EHLO; some relays reject "localhost".
func localName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \r\n") {
		return "localhost"
	}
	return h
}
