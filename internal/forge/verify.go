package forge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // Sign sends the legacy header real forges send; Verify never trusts it.
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Verify checks that a delivery comes from someone who knows the hook's
// secret, each forge its own way:
//
//   - GitHub: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of
//     the body. The SHA-1 X-Hub-Signature alone is refused.
//   - GitLab: X-Gitlab-Token is the secret itself. It authenticates the
//     sender but, unlike the others, does not cover the body.
//   - Gitea: X-Gitea-Signature is the bare hex HMAC-SHA256 of the body;
//     X-Hub-Signature-256, which Gitea also sends, is accepted when
//     X-Gitea-Signature is absent.
//
// An empty secret never verifies: a hook without a secret would let anyone
// start pipelines. Errors wrap ErrUnauthorized and name the header at fault,
// never the secret or the expected value.
func Verify(kind Kind, h http.Header, body []byte, secret string) error {
	if secret == "" {
		return fmt.Errorf("%w: no webhook secret is configured for this project", ErrUnauthorized)
	}
	switch kind {
	case KindGitHub:
		return verifyHub(h, body, secret)
	case KindGitLab:
		return verifyGitLab(h, secret)
	case KindGitea:
		if h.Get(HeaderGiteaSignature) == "" && h.Get(HeaderHubSignature256) != "" {
			return verifyHub(h, body, secret)
		}
		return verifyHex(HeaderGiteaSignature, h.Get(HeaderGiteaSignature), body, secret)
	}
	return fmt.Errorf("verify webhook: %w %q", ErrUnknownKind, kind)
}

func verifyHub(h http.Header, body []byte, secret string) error {
	v := h.Get(HeaderHubSignature256)
	if v == "" {
		if h.Get(HeaderHubSignatureSHA1) != "" {
			return fmt.Errorf("%w: %s is missing; the SHA-1 %s is not accepted", ErrUnauthorized, HeaderHubSignature256, HeaderHubSignatureSHA1)
		}
		return fmt.Errorf("%w: %s header is missing", ErrUnauthorized, HeaderHubSignature256)
	}
	hexSig, ok := strings.CutPrefix(v, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s does not start with \"sha256=\"", ErrUnauthorized, HeaderHubSignature256)
	}
	return verifyHex(HeaderHubSignature256, hexSig, body, secret)
}

func verifyHex(header, hexSig string, body []byte, secret string) error {
	if hexSig == "" {
		return fmt.Errorf("%w: %s header is missing", ErrUnauthorized, header)
	}
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: %s is not a hex SHA-256 HMAC", ErrUnauthorized, header)
	}
	if !hmac.Equal(got, hmacSHA256(body, secret)) {
		return fmt.Errorf("%w: %s does not match the body (wrong secret or altered body)", ErrUnauthorized, header)
	}
	return nil
}

func verifyGitLab(h http.Header, secret string) error {
	if len(h.Values(HeaderGitLabToken)) == 0 {
		return fmt.Errorf("%w: %s header is missing", ErrUnauthorized, HeaderGitLabToken)
	}
	// Comparing digests keeps the time independent of the secret's length
	// as well as its content.
	got := sha256.Sum256([]byte(h.Get(HeaderGitLabToken)))
	want := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%w: %s does not match the project's secret", ErrUnauthorized, HeaderGitLabToken)
	}
	return nil
}

func hmacSHA256(body []byte, secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the headers the forge would send with body when the hook's
// secret is secret: signature or token, a fresh random delivery ID and
// Content-Type. The event header is left for the caller to set (see
// EventHeader and EventName). It exists for tests, `gantry hook test` and
// end-to-end tests of other packages; an unknown kind gets Content-Type
// only.
func Sign(kind Kind, body []byte, secret string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	switch kind {
	case KindGitHub:
		h.Set(HeaderGitHubDelivery, newUUID())
		setHubSignatures(h, body, secret)
	case KindGitLab:
		h.Set(HeaderGitLabToken, secret)
		h.Set(HeaderGitLabEventUUID, newUUID())
		h.Set(HeaderGitLabWebhookUUID, newUUID())
		h.Set(HeaderIdempotencyKey, newUUID())
	case KindGitea:
		h.Set(HeaderGiteaDelivery, newUUID())
		h.Set(HeaderGiteaSignature, hex.EncodeToString(hmacSHA256(body, secret)))
		setHubSignatures(h, body, secret)
	}
	return h
}

func setHubSignatures(h http.Header, body []byte, secret string) {
	h.Set(HeaderHubSignature256, "sha256="+hex.EncodeToString(hmacSHA256(body, secret)))
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	h.Set(HeaderHubSignatureSHA1, "sha1="+hex.EncodeToString(m.Sum(nil)))
}

// newUUID returns a random (version 4) UUID, the form all three forges use
// for delivery IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
