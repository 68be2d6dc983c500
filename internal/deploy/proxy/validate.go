package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// maxWeight keeps the weighted round-robin sums far from overflow and the precomputed
// schedule small; finer splits than one in a million are not a rollout's business.
const maxWeight = 1_000_000

// Validate reports the first reason the table cannot be served, so SetRoutes can refuse it
// before any request sees it.
func (r Routes) Validate() error {
	seenRev := make(map[string]bool, len(r.Backends))
	seenEP := make(map[string]string)
	total := 0
	for i, b := range r.Backends {
		if b.Revision == "" {
			return fmt.Errorf("backend %d: revision name is empty", i)
		}
		if !validLabel(b.Revision) {
			return fmt.Errorf("backend %q: revision name must be printable ASCII without spaces, at most 128 characters", b.Revision)
		}
		if seenRev[b.Revision] {
			return fmt.Errorf("backend %q: revision appears twice", b.Revision)
		}
		seenRev[b.Revision] = true
		if b.Weight < 0 || b.Weight > maxWeight {
			return fmt.Errorf("backend %q: weight %d is outside 0..%d", b.Revision, b.Weight, maxWeight)
		}
		total += b.Weight
		if len(b.Endpoints) == 0 {
			return fmt.Errorf("backend %q: no endpoints", b.Revision)
		}
		for _, ep := range b.Endpoints {
			if err := validateEndpoint(ep); err != nil {
				return fmt.Errorf("backend %q: %w", b.Revision, err)
			}
			if other, dup := seenEP[ep]; dup {
				return fmt.Errorf("backend %q: endpoint %s is already used by revision %q", b.Revision, ep, other)
			}
			seenEP[ep] = b.Revision
		}
	}
	if len(r.Backends) > 0 && total == 0 {
		return errors.New("every weight is 0: no revision would take ordinary traffic")
	}
	if h := r.Header; h != nil {
		if !validHeaderName(h.Name) {
			return fmt.Errorf("header route: %q is not a valid header name", h.Name)
		}
		if !seenRev[h.Revision] {
			return fmt.Errorf("header route: revision %q is not among the backends", h.Revision)
		}
	}
	if r.Fallback != "" && !seenRev[r.Fallback] {
		return fmt.Errorf("fallback: revision %q is not among the backends", r.Fallback)
	}
	return nil
}

// validateEndpoint accepts host:port with a numeric port, which is all a replica on
// loopback (or a host on the node's network) ever is.
func validateEndpoint(ep string) error {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", ep, err)
	}
	if host == "" {
		return fmt.Errorf("endpoint %q: host is empty", ep)
	}
	if strings.ContainsAny(host, "/?#@ \t") || !validLabel(host) {
		return fmt.Errorf("endpoint %q: host has characters that do not belong in an address", ep)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("endpoint %q: port must be a number in 1..65535", ep)
	}
	return nil
}

// validLabel accepts what can go into a metric label and a response header unchanged.
func validLabel(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validHeaderName accepts an RFC 9110 token, the only thing a header name can be.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return http.CanonicalHeaderKey(s) != ""
}
