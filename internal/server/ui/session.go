package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sessionCookie holds the sealed session.
const sessionCookie = "gantry_session"

// sessionAAD binds sealed sessions to their use: a value sealed for a
// variable or a webhook secret does not open as a session.
const sessionAAD = "ui/session"

// maxForm bounds form bodies; variables are the largest thing posted.
const maxForm = 1 << 20

// session is what the cookie holds, sealed.
type session struct {
	Hash    string `json:"h"`
	Expires int64  `json:"e"` // Unix seconds
}

// req is one signed-in request.
type req struct {
	user *User
	csrf string
}

// csrfToken is derived from the sealed cookie value, which is random
// (GCM nonce) and unreadable to other sites: a page that cannot read the
// cookie cannot compute the token, and nothing needs storing.
func csrfToken(cookie string) string {
	sum := sha256.Sum256([]byte("gantry-csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// signedIn returns the request's user, or nil when it has no valid
// session.
func (h *Handler) signedIn(r *http.Request) *req {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	raw, err := h.be.Open(c.Value, sessionAAD)
	if err != nil {
		return nil
	}
	var s session
	if json.Unmarshal(raw, &s) != nil || s.Hash == "" || time.Now().Unix() > s.Expires {
		return nil
	}
	u, err := h.be.UserByTokenHash(r.Context(), s.Hash)
	if err != nil || u == nil {
		return nil
	}
	return &req{user: u, csrf: csrfToken(c.Value)}
}

// page wraps a GET page: without a session it goes to the login page.
func (h *Handler) page(fn func(w http.ResponseWriter, r *http.Request, q *req) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := h.signedIn(r)
		if q == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err := fn(w, r, q); err != nil {
			h.fail(w, r, q, err)
		}
	}
}

// stream wraps a GET answered with other data than a page (events, logs,
// downloads): without a session it answers 401.
func (h *Handler) stream(fn func(w http.ResponseWriter, r *http.Request, q *req) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := h.signedIn(r)
		if q == nil {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if err := fn(w, r, q); err != nil {
			h.fail(w, r, q, err)
		}
	}
}

// action wraps a form POST: it needs a session and the form's CSRF token,
// else 403.
func (h *Handler) action(fn func(w http.ResponseWriter, r *http.Request, q *req) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		q := h.signedIn(r)
		if q == nil {
			h.fail(w, r, nil, &StatusError{Status: http.StatusForbidden, Err: errors.New("sign in first")})
			return
		}
		got := r.PostFormValue("csrf")
		if got == "" {
			got = r.Header.Get("X-CSRF-Token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(q.csrf)) != 1 {
			h.fail(w, r, q, &StatusError{Status: http.StatusForbidden, Err: errors.New("this form is stale or did not come from Gantry (CSRF token missing or wrong); reload the page and try again")})
			return
		}
		if err := fn(w, r, q); err != nil {
			h.fail(w, r, q, err)
		}
	}
}

type loginData struct {
	base
	Next  string
	Error string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"), "/")
	if h.signedIn(r) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", &loginData{base: base{Title: "Sign in"}, Next: next})
}

// login signs in with an API token. A cross-site form could sign a
// victim in as the attacker; browsers send Origin with every POST, so a
// foreign one is refused.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			h.fail(w, r, nil, &StatusError{Status: http.StatusForbidden, Err: errors.New("sign-in from another site refused")})
			return
		}
	}
	next := localPath(r.PostFormValue("next"), "/")
	token := strings.TrimSpace(r.PostFormValue("token"))
	u, err := h.be.SignIn(r.Context(), token)
	if err != nil || u == nil {
		h.render(w, r, http.StatusUnauthorized, "login", &loginData{
			base: base{Title: "Sign in"}, Next: next,
			Error: "That token does not sign in: it is unknown, expired, or not an admin or user token.",
		})
		return
	}
	raw, _ := json.Marshal(session{Hash: u.TokenHash, Expires: time.Now().Add(h.ttl).Unix()})
	sealed, err := h.be.Seal(raw, sessionAAD)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sealed, Path: "/", MaxAge: int(h.ttl.Seconds()),
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ *req) error {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// secureRequest says whether the browser reached us over HTTPS, directly
// or through a proxy that says so.
func (h *Handler) secureRequest(r *http.Request) bool {
	return h.secure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// localPath keeps redirects on this site: a path, not "//host" or a URL.
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return fallback
	}
	return p
}
