package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// cgiEnv returns the CGI/1.1 meta-variables (RFC 3875 section 4.1) for r.
// The module is mounted at the root, so SCRIPT_NAME is empty and
// PATH_INFO is the whole path.
func cgiEnv(r *http.Request, serverPort string, contentLength int64) []string {
	remoteHost, remotePort, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remoteHost = r.RemoteAddr
	}
	serverName := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		serverName = h
	}
	if serverName == "" {
		serverName = "127.0.0.1"
	}
	env := []string{
		"GATEWAY_INTERFACE=CGI/1.1",
		"SERVER_SOFTWARE=gantry",
		"SERVER_NAME=" + serverName,
		"SERVER_PORT=" + serverPort,
		"SERVER_PROTOCOL=" + r.Proto,
		"REQUEST_METHOD=" + r.Method,
		"REQUEST_URI=" + r.URL.RequestURI(),
		"SCRIPT_NAME=",
		"PATH_INFO=" + r.URL.Path,
		"QUERY_STRING=" + r.URL.RawQuery,
		"REMOTE_ADDR=" + remoteHost,
		"REMOTE_PORT=" + remotePort,
		"HTTP_HOST=" + r.Host,
	}
	if r.TLS != nil {
		env = append(env, "HTTPS=on")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		env = append(env, "CONTENT_TYPE="+ct)
	}
	if contentLength > 0 {
		env = append(env, "CONTENT_LENGTH="+strconv.FormatInt(contentLength, 10))
	}
	for name, values := range r.Header {
		switch name {
		case "Content-Type", "Content-Length", "Host":
			continue // already above
		case "Proxy":
			continue // httpoxy: HTTP_PROXY would configure the module's own client
		}
		key := "HTTP_" + strings.Map(cgiHeaderRune, strings.ToUpper(name))
		env = append(env, key+"="+strings.Join(values, ", "))
	}
	return env
}

// cgiHeaderRune maps a header name byte to the CGI variable alphabet.
func cgiHeaderRune(r rune) rune {
	switch {
	case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		return r
	default:
		return '_'
	}
}

// cgiResponse is a parsed CGI document response.
type cgiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

var errNoCGIHeader = errors.New("CGI response has none of Status, Content-Type or Location")

// parseCGIResponse parses what a module wrote to stdout: header lines
// ending in a blank line, then the body (RFC 3875 section 6). Lines may
// end in LF or CRLF. Status defaults to 200, or 302 with a Location.
func parseCGIResponse(out []byte) (cgiResponse, error) {
	br := bufio.NewReader(bytes.NewReader(out))
	hdr, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		return cgiResponse{}, fmt.Errorf("read CGI response header: %w", err)
	}
	resp := cgiResponse{Status: http.StatusOK, Header: http.Header(hdr)}
	status := resp.Header.Get("Status")
	switch {
	case status != "":
		code, _, _ := strings.Cut(strings.TrimSpace(status), " ")
		n, err := strconv.Atoi(code)
		if err != nil || len(code) != 3 || n < 100 || n > 599 {
			return cgiResponse{}, fmt.Errorf("CGI response has invalid Status %q", status)
		}
		resp.Status = n
		resp.Header.Del("Status")
	case resp.Header.Get("Location") != "":
		resp.Status = http.StatusFound
	case resp.Header.Get("Content-Type") == "":
		return cgiResponse{}, errNoCGIHeader
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return cgiResponse{}, fmt.Errorf("read CGI response body: %w", err)
	}
	resp.Body = body
	return resp, nil
}
