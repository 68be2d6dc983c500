package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpMessage is what the test SMTP server received in one transaction.
type smtpMessage struct {
	From string
	To   []string
	Data string
	// TLS and Auth describe the session when the message arrived.
	TLS  bool
	Auth string // "user:password" from AUTH PLAIN, or ""
}

// smtpServer is a tiny SMTP server on loopback, speaking just enough of
// RFC 5321 for net/smtp: EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL, RCPT,
// DATA, RSET, NOOP, QUIT.
type smtpServer struct {
	t    *testing.T
	ln   net.Listener
	Addr string
	// tlsConfig, when set, makes the server offer STARTTLS.
	tlsConfig *tls.Config
	// rcptReply, when set, answers every RCPT TO (e.g. "550 no such user").
	rcptReply string
	// dataReplies answer successive DATA terminations; then "250 queued".
	dataReplies []string

	mu       sync.Mutex
	messages []smtpMessage
	auths    []string // every AUTH attempt, with whether it came over TLS
	wg       sync.WaitGroup
}

// startSMTP listens on host (e.g. "127.0.0.1") port 0; configure must
// only set fields before serving starts.
func startSMTP(t *testing.T, host string, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	s := &smtpServer{t: t, ln: ln, Addr: ln.Addr().String()}
	if configure != nil {
		configure(s)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) Messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.messages...)
}

func (s *smtpServer) Auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

func (s *smtpServer) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	reply := func(lines ...string) bool {
		_, err := conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
		return err == nil
	}
	var (
		isTLS bool
		auth  string
		msg   smtpMessage
	)
	if !reply("220 test.local ESMTP ready") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-test.local", "250-8BITMIME", "250-AUTH PLAIN"}
			if s.tlsConfig != nil && !isTLS {
				lines = append(lines, "250-STARTTLS")
			}
			lines = append(lines, "250 SIZE 1000000")
			reply(lines...)
		case "HELO", "NOOP":
			reply("250 ok")
		case "RSET":
			msg = smtpMessage{}
			reply("250 ok")
		case "STARTTLS":
			if s.tlsConfig == nil || isTLS {
				reply("502 not now")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(conn, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, r, isTLS = tc, bufio.NewReader(tc), true
			auth, msg = "", smtpMessage{}
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(ir)
			parts := strings.Split(string(raw), "\x00")
			if !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3 {
				reply("535 bad auth")
				continue
			}
			auth = parts[1] + ":" + parts[2]
			s.mu.Lock()
			s.auths = append(s.auths, auth+map[bool]string{true: " tls", false: " plain"}[isTLS])
			s.mu.Unlock()
			reply("235 authenticated")
		case "MAIL":
			msg = smtpMessage{From: addrArg(arg), TLS: isTLS, Auth: auth}
			reply("250 ok")
		case "RCPT":
			if s.rcptReply != "" {
				reply(s.rcptReply)
				continue
			}
			msg.To = append(msg.To, addrArg(arg))
			reply("250 ok")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			msg.Data = b.String()
			s.mu.Lock()
			answer := "250 queued"
			if len(s.dataReplies) > 0 {
				answer, s.dataReplies = s.dataReplies[0], s.dataReplies[1:]
			}
			if strings.HasPrefix(answer, "250") {
				s.messages = append(s.messages, msg)
			}
			s.mu.Unlock()
			msg = smtpMessage{TLS: isTLS, Auth: auth}
			reply(answer)
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown command")
		}
	}
}

// addrArg extracts the address from "FROM:<a@b> BODY=8BITMIME".
func addrArg(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	a, _, _ := strings.Cut(rest, ">")
	return a
}

// selfSignedTLS makes a server certificate for the IP host and a client
// config trusting it, as a private CA would be configured.
func selfSignedTLS(t *testing.T, host string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(host)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}
