package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// base is what every page's layout shows.
type base struct {
	Title   string
	User    *User
	CSRF    string
	Project *store.Project
	Tab     string // the project tab shown as current
	// Events, when set, is the event stream whose events refresh the
	// page's live part (the element with id "live").
	Events string
}

func (q *req) base(title string, proj *store.Project, tab string) base {
	return base{Title: title, User: q.user, CSRF: q.csrf, Project: proj, Tab: tab}
}

// fragmentHeader asks for the live part of a page only: the script
// refreshing a page after an event sends it.
const fragmentHeader = "X-Gantry-Fragment"

func (h *Handler) loadTemplates() error {
	funcs := template.FuncMap{
		"static":    h.staticURL,
		"status":    statusBadge,
		"statusTxt": statusLabel,
		"dur":       durationOf,
		"secs":      secondsText,
		"ago":       ago,
		"short":     shortSHA,
		"firstLine": firstLine,
		"by":        triggeredBy,
		"join":      strings.Join,
		"path":      url.PathEscape,
		"query":     url.QueryEscape,
		"size":      sizeText,
		"pct":       percent,
		"add":       func(a, b int) int { return a + b },
		"sub":       func(a, b int) int { return a - b },
		"args":      args,
		"finished":  store.Finished,
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("parse ui layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/page_*.html")
	if err != nil {
		return fmt.Errorf("list ui templates: %w", err)
	}
	h.pages = map[string]*template.Template{}
	for _, name := range names {
		t, err := layout.Clone()
		if err != nil {
			return fmt.Errorf("clone ui layout: %w", err)
		}
		if _, err := t.ParseFS(files, name); err != nil {
			return fmt.Errorf("parse %s: %w", name, err)
		}
		key := strings.TrimSuffix(strings.TrimPrefix(name, "templates/page_"), ".html")
		h.pages[key] = t
	}
	return nil
}

// render executes a page into a buffer (a template error must not leave
// half a page) and writes it with its server time. With the fragment
// header it renders the page's "live" part only.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t, ok := h.pages[page]
	if !ok {
		http.Error(w, "no template "+page, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	name := "layout"
	if r.Header.Get(fragmentHeader) != "" && t.Lookup("live") != nil {
		name = "live"
	}
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("render page", "page", page, "err", err)
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	// The whole request so far: store reads, plans and the template.
	hd.Set("Server-Timing", fmt.Sprintf("page;dur=%.2f", float64(since(r).Microseconds())/1000))
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	base
	Status  int
	Message string
	Back    string
}

// fail shows an error page with the error's status.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, q *req, err error) {
	status := statusOf(err)
	if status >= 500 {
		h.log.Error("ui request failed", "path", r.URL.Path, "err", err)
	}
	if status == 499 {
		return
	}
	d := &errorData{base: base{Title: http.StatusText(status)}, Status: status, Message: err.Error()}
	if q != nil {
		d.base = q.base(http.StatusText(status), nil, "")
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		if u, perr := url.Parse(ref); perr == nil && u.Host == r.Host {
			d.Back = localPath(u.RequestURI(), "")
		}
	}
	h.render(w, r, status, "error", d)
}

// statusLabel is GitLab's wording of a status.
func statusLabel(s string) string {
	switch s {
	case store.StatusSuccess:
		return "passed"
	case store.StatusCanceled:
		return "canceled"
	case store.StatusBlocked:
		return "blocked"
	}
	return s
}

var statusIcons = map[string]string{
	store.StatusSuccess: "✓", store.StatusFailed: "✕", store.StatusRunning: "◔", store.StatusPending: "◷",
	store.StatusCreated: "○", store.StatusCanceled: "⊘", store.StatusSkipped: "»", store.StatusManual: "⚙",
	store.StatusBlocked: "⏸",
}

// statusBadge is a status with an icon and words, so that it does not
// rest on colour alone.
func statusBadge(s string) template.HTML {
	icon, ok := statusIcons[s]
	if !ok {
		icon = "•"
	}
	esc := template.HTMLEscapeString(s)
	return template.HTML(`<span class="badge st-` + esc + `" data-status="` + esc + `"><span aria-hidden="true">` +
		icon + `</span> ` + template.HTMLEscapeString(statusLabel(s)) + `</span>`)
}

// durationOf is how long something ran, or runs so far.
func durationOf(start, end time.Time) string {
	if start.IsZero() {
		return ""
	}
	if end.IsZero() {
		end = time.Now()
	}
	return secondsText(end.Sub(start).Seconds())
}

func secondsText(s float64) string {
	if s < 0 {
		s = 0
	}
	d := time.Duration(math.Round(s)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
}

// ago is a time for people, with the exact time on hover.
func ago(t time.Time) template.HTML {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	var txt string
	switch {
	case d < -time.Minute:
		txt = "in " + secondsText(-d.Seconds())
	case d < 0:
		txt = "just now"
	case d < time.Minute:
		txt = fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		txt = fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		txt = fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		txt = t.UTC().Format("2006-01-02")
	}
	return template.HTML(`<time datetime="` + t.UTC().Format(time.RFC3339) + `" title="` +
		t.UTC().Format("2006-01-02 15:04:05 UTC") + `">` + txt + `</time>`)
}

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > 100 {
		return string(r[:99]) + "…"
	}
	return s
}

// triggeredBy reads who or what started a pipeline from its trigger.
func triggeredBy(raw json.RawMessage) string {
	var t struct {
		By string `json:"by"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return ""
	}
	return t.By
}

func sizeText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

func percent(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64) + "%"
}

var errNotAdmin = &StatusError{Status: http.StatusForbidden, Err: errors.New("only an admin may see this page")}

// args passes several values to a template: (args "Card" . "CSRF" $.CSRF).
func args(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("args: want key value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("args: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
