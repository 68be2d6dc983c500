package forge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// Parse reads a delivery into an Event. It does not authenticate: call
// Verify first. Unsupported events and actions return an error wrapping
// ErrIgnored that names them; bodies that cannot be understood return
// ErrMalformed, too-large ones ErrTooLarge. Parse never panics, whatever
// the input.
//
// The body may be JSON or, as GitHub and Gitea allow, a form with the JSON
// in its "payload" field.
func Parse(kind Kind, h http.Header, body []byte) (Event, error) {
	if len(body) > MaxBodyBytes {
		return Event{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), MaxBodyBytes)
	}
	var (
		ev  Event
		err error
	)
	switch kind {
	case KindGitHub:
		ev, err = parseGitHub(h, body)
	case KindGitLab:
		ev, err = parseGitLab(h, body)
	case KindGitea:
		ev, err = parseGitea(h, body)
	default:
		return Event{}, fmt.Errorf("parse webhook: %w %q", ErrUnknownKind, kind)
	}
	if err != nil {
		return Event{}, fmt.Errorf("parse %s webhook: %w", kind, err)
	}
	ev.Kind = kind
	return ev, nil
}

// firstHeader returns the first non-empty of the named headers.
func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// maxHeaderValue bounds the header values copied into an Event; real ones
// are UUIDs or short words.
const maxHeaderValue = 200

// deliveryID takes the forge's delivery ID from the first header present,
// or else derives one from the body: the forge resends the same bytes on a
// retry, so the digest dedupes retries just as a real ID would.
func deliveryID(kind Kind, event string, h http.Header, body []byte, names ...string) (string, error) {
	if id := firstHeader(h, names...); id != "" {
		if !printableASCII(id, maxHeaderValue) {
			return "", fmt.Errorf("%w: delivery ID header is not a short printable string", ErrMalformed)
		}
		return id, nil
	}
	d := sha256.New()
	d.Write([]byte(kind))
	d.Write([]byte{0})
	d.Write([]byte(event))
	d.Write([]byte{0})
	d.Write(body)
	return "sha256-" + hex.EncodeToString(d.Sum(nil)), nil
}

func printableASCII(s string, limit int) bool {
	if len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// eventName reads the event header, refusing values no forge would send so
// that error messages quoting it stay short and harmless.
func eventName(h http.Header, names ...string) (string, error) {
	v := firstHeader(h, names...)
	if v == "" {
		return "", fmt.Errorf("%w: %s header is missing", ErrMalformed, names[0])
	}
	if !printableASCII(v, 64) {
		return "", fmt.Errorf("%w: %s header is not a short printable string", ErrMalformed, names[0])
	}
	return v, nil
}

// decodeJSON unmarshals the payload, unwrapping the form encoding GitHub
// and Gitea offer as an alternative to JSON.
func decodeJSON(h http.Header, body []byte, v any) error {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("%w: form body: %v", ErrMalformed, err)
		}
		p := form.Get("payload")
		if p == "" {
			return fmt.Errorf("%w: form body has no payload field", ErrMalformed)
		}
		body = []byte(p)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: body is not the expected JSON: %v", ErrMalformed, err)
	}
	return nil
}
