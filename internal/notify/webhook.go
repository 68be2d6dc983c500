package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// Webhook request headers; see the package documentation.
const (
	HeaderEvent     = "X-Gantry-Event"
	HeaderDelivery  = "X-Gantry-Delivery"
	HeaderSignature = "X-Gantry-Signature-256"
)

// signaturePrefix names the algorithm in the signature header, leaving
// room for another one without breaking receivers.
const signaturePrefix = "sha256="

// Sign returns the X-Gantry-Signature-256 value for body:
// "sha256=" followed by the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature says whether header is the signature of body under
// secret, comparing in constant time. Receivers written in Go can use it
// directly; it is also the reference for receivers in other languages.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// webhookHeader is the header set of one delivery; it is the same on
// every attempt, so a receiver sees retries as the same delivery.
func webhookHeader(c Channel, e Event, deliveryID string, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderEvent, oneLine(e.Kind))
	h.Set(HeaderDelivery, deliveryID)
	if c.Secret != "" {
		h.Set(HeaderSignature, Sign(c.Secret, body))
	}
	return h
}
