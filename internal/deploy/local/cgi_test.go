package local

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestParseCGIResponse(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantStatus int
		wantHeader http.Header
		wantBody   string
		wantErr    string
	}{
		{
			name:       "net/http/cgi output",
			in:         "Status: 201 Created\r\nContent-Type: application/json\r\nX-A: 1\r\nX-A: 2\r\n\r\n{\"ok\":true}",
			wantStatus: 201,
			wantHeader: http.Header{"Content-Type": {"application/json"}, "X-A": {"1", "2"}},
			wantBody:   `{"ok":true}`,
		},
		{
			name:       "LF line ends and default status",
			in:         "Content-Type: text/plain\n\nhello\n\nworld",
			wantStatus: 200,
			wantHeader: http.Header{"Content-Type": {"text/plain"}},
			wantBody:   "hello\n\nworld",
		},
		{
			name:       "location without status redirects",
			in:         "Location: https://example.com/\r\n\r\n",
			wantStatus: 302,
			wantHeader: http.Header{"Location": {"https://example.com/"}},
		},
		{
			name:       "status without reason phrase",
			in:         "Status: 404\n\n",
			wantStatus: 404,
			wantHeader: http.Header{},
		},
		{
			name:       "header names are canonicalised",
			in:         "content-type: text/html\nx-request-id: 7\n\n<p>",
			wantStatus: 200,
			wantHeader: http.Header{"Content-Type": {"text/html"}, "X-Request-Id": {"7"}},
			wantBody:   "<p>",
		},
		{name: "empty output", in: "", wantErr: "read CGI response header"},
		{name: "no blank line", in: "Content-Type: text/plain\r\n", wantErr: "read CGI response header"},
		{name: "body only", in: "hello world\n\n", wantErr: "read CGI response header"},
		{name: "no CGI header", in: "X-Only: 1\n\nbody", wantErr: "none of Status"},
		{name: "status not a number", in: "Status: OK\n\n", wantErr: "invalid Status"},
		{name: "status out of range", in: "Status: 700 Odd\n\n", wantErr: "invalid Status"},
		{name: "status too long", in: "Status: 2000\n\n", wantErr: "invalid Status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCGIResponse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.Status != tt.wantStatus || string(got.Body) != tt.wantBody {
				t.Errorf("status %d body %q, want %d %q", got.Status, got.Body, tt.wantStatus, tt.wantBody)
			}
			if len(got.Header) != len(tt.wantHeader) {
				t.Errorf("header %v, want %v", got.Header, tt.wantHeader)
			}
			for k, v := range tt.wantHeader {
				if !slices.Equal(got.Header[k], v) {
					t.Errorf("header %s = %q, want %q", k, got.Header[k], v)
				}
			}
		})
	}
}

func FuzzParseCGIResponse(f *testing.F) {
	for _, seed := range []string{
		"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhi",
		"Location: /x\n\n",
		"Status: 99\n\n",
		"Content-Type: a\n \tfolded\n\nbody",
		": empty name\n\n",
		"\n\n",
		"Status: 5000000000000000000000 x\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := parseCGIResponse(in)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 599 {
			t.Errorf("accepted status %d", resp.Status)
		}
		if resp.Header.Get("Status") != "" {
			t.Error("Status header passed through to the client")
		}
		if !bytes.HasSuffix(in, resp.Body) {
			t.Errorf("body %q is not the tail of the output", resp.Body)
		}
	})
}

func TestCGIEnv(t *testing.T) {
	r := httptest.NewRequest("POST", "http://svc.example:8080/api/users?id=7&x=%20", strings.NewReader("abc"))
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.Header.Set("Proxy", "http://evil:1")
	r.Header.Set("Weird.Name", "v")
	r.TLS = &tls.ConnectionState{}
	got := map[string]string{}
	for _, kv := range cgiEnv(r, "41000", 3) {
		k, v, _ := cutEnv(kv)
		if _, dup := got[k]; dup {
			t.Errorf("%s set twice", k)
		}
		got[k] = v
	}
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_NAME":       "svc.example",
		"SERVER_PORT":       "41000",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_METHOD":    "POST",
		"REQUEST_URI":       "/api/users?id=7&x=%20",
		"SCRIPT_NAME":       "",
		"PATH_INFO":         "/api/users",
		"QUERY_STRING":      "id=7&x=%20",
		"CONTENT_TYPE":      "application/json",
		"CONTENT_LENGTH":    "3",
		"REMOTE_ADDR":       "10.1.2.3",
		"REMOTE_PORT":       "5555",
		"HTTP_HOST":         "svc.example:8080",
		"HTTP_X_MULTI":      "a, b",
		"HTTP_WEIRD_NAME":   "v",
		"HTTPS":             "on",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s must not be set", k)
		}
	}
}
