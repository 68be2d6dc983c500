package forge

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// parseCase is one sample delivery: the forge's event header value, the
// sample body and what a user of Gantry would expect from it.
type parseCase struct {
	name    string
	kind    Kind
	event   string
	file    string
	headers map[string]string
	wantErr error
	// Key facts checked directly; the golden file pins the rest.
	typ     EventType
	ref     string
	sha     string
	deleted bool
	iid     int
	action  string
}

var parseCases = []parseCase{
	{name: "github-push", kind: KindGitHub, event: "push", file: "github/push.json",
		typ: EventPush, ref: "main", sha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},
	{name: "github-push-tag", kind: KindGitHub, event: "push", file: "github/push_tag.json",
		typ: EventTagPush, ref: "v1.2.0", sha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},
	{name: "github-push-delete", kind: KindGitHub, event: "push", file: "github/push_delete.json",
		typ: EventPush, ref: "feature/old-login", sha: "0000000000000000000000000000000000000000", deleted: true},
	{name: "github-push-skip", kind: KindGitHub, event: "push", file: "github/push_skip.json",
		typ: EventPush, ref: "docs", sha: "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"},
	{name: "github-pr-opened", kind: KindGitHub, event: "pull_request", file: "github/pull_request_opened.json",
		typ: EventMergeRequest, ref: "changes", sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", iid: 2, action: MRActionOpen},
	{name: "github-pr-synchronize-fork", kind: KindGitHub, event: "pull_request", file: "github/pull_request_synchronize.json",
		typ: EventMergeRequest, ref: "retry", sha: "c8f4a2b0d6e3f9a5b7c1d4e8f2a6b0c3d7e1f5a9", iid: 17, action: MRActionUpdate},
	{name: "github-pr-closed", kind: KindGitHub, event: "pull_request", file: "github/pull_request_closed.json", wantErr: ErrIgnored},
	{name: "github-ping", kind: KindGitHub, event: "ping", file: "github/ping.json", typ: EventPing},
	{name: "github-issues", kind: KindGitHub, event: "issues", file: "github/issues.json", wantErr: ErrIgnored},

	{name: "gitlab-push", kind: KindGitLab, event: "Push Hook", file: "gitlab/push.json",
		headers: map[string]string{HeaderGitLabEventUUID: "0b5e6c2a-51d4-4b0c-8e1f-9f3a2d7c6b11"},
		typ:     EventPush, ref: "master", sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"},
	{name: "gitlab-tag-push", kind: KindGitLab, event: "Tag Push Hook", file: "gitlab/tag_push.json",
		headers: map[string]string{HeaderGitLabWebhookUUID: "7f0c8a1e-2b3d-4c5e-9f60-718293a4b5c6"},
		typ:     EventTagPush, ref: "v1.0.0", sha: "5937ac0a7beb003549fc5fd26fc247adbce4a52e"},
	{name: "gitlab-push-delete", kind: KindGitLab, event: "Push Hook", file: "gitlab/push_delete.json",
		typ: EventPush, ref: "topic/cleanup", sha: "0000000000000000000000000000000000000000", deleted: true},
	{name: "gitlab-mr-open", kind: KindGitLab, event: "Merge Request Hook", file: "gitlab/mr_open.json",
		headers: map[string]string{HeaderIdempotencyKey: "e2d1c0b9-a8f7-4e6d-9c5b-4a3928171605", HeaderGitLabEventUUID: "not-this-one"},
		typ:     EventMergeRequest, ref: "ms-viewport", sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", iid: 1, action: MRActionOpen},
	{name: "gitlab-mr-update", kind: KindGitLab, event: "Merge Request Hook", file: "gitlab/mr_update.json",
		headers: map[string]string{HeaderGitLabEventUUID: "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"},
		typ:     EventMergeRequest, ref: "ms-viewport", sha: "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e", iid: 1, action: MRActionUpdate},
	{name: "gitlab-mr-update-title-only", kind: KindGitLab, event: "Merge Request Hook", file: "gitlab/mr_update_title.json", wantErr: ErrIgnored},
	{name: "gitlab-mr-merge", kind: KindGitLab, event: "Merge Request Hook", file: "gitlab/mr_merge.json", wantErr: ErrIgnored},
	{name: "gitlab-pipeline", kind: KindGitLab, event: "Pipeline Hook", file: "gitlab/pipeline.json", wantErr: ErrIgnored},
	{name: "gitlab-system-hook", kind: KindGitLab, event: "System Hook", file: "gitlab/push.json", wantErr: ErrIgnored},

	{name: "gitea-push", kind: KindGitea, event: "push", file: "gitea/push.json",
		typ: EventPush, ref: "develop", sha: "bffeb74224043ba2feb48d137756c8a9331c449a"},
	{name: "gitea-push-tag", kind: KindGitea, event: "push", file: "gitea/push_tag.json",
		typ: EventTagPush, ref: "v0.3.1", sha: "bffeb74224043ba2feb48d137756c8a9331c449a"},
	{name: "gitea-push-delete-tag", kind: KindGitea, event: "push", file: "gitea/push_delete.json",
		typ: EventTagPush, ref: "v0.3.0-rc1", sha: "0000000000000000000000000000000000000000", deleted: true},
	{name: "gitea-pr-opened", kind: KindGitea, event: "pull_request", file: "gitea/pull_request_opened.json",
		typ: EventMergeRequest, ref: "health", sha: "4e1f0d2c3b4a59687f8e9d0c1b2a39485f6e7d8c", iid: 4, action: MRActionOpen},
	{name: "gitea-pr-synchronized", kind: KindGitea, event: "pull_request", file: "gitea/pull_request_synchronized.json",
		typ: EventMergeRequest, ref: "health", sha: "7a8b9c0d1e2f30415263748596a7b8c9d0e1f2a3", iid: 4, action: MRActionUpdate},
	{name: "gitea-pr-label", kind: KindGitea, event: "pull_request", file: "gitea/pull_request_label_updated.json", wantErr: ErrIgnored},
	{name: "gitea-create", kind: KindGitea, event: "create", file: "gitea/create.json", wantErr: ErrIgnored},
}

// headersFor builds the headers a forge sends with a sample: its event
// header, a fixed delivery ID (GitLab's vary per case) and Content-Type.
func headersFor(c parseCase) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(EventHeader(c.kind), c.event)
	switch c.kind {
	case KindGitHub:
		h.Set(HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	case KindGitea:
		h.Set(HeaderGiteaDelivery, "f6266f16-1bf3-46a5-9ea4-602e06ead473")
	}
	for k, v := range c.headers {
		h.Set(k, v)
	}
	return h
}

func caseByName(t testing.TB, name string) parseCase {
	t.Helper()
	i := slices.IndexFunc(parseCases, func(c parseCase) bool { return c.name == name })
	if i < 0 {
		t.Fatalf("no parse case %q", name)
	}
	return parseCases[i]
}

func readSample(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSamples(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Parse(c.kind, headersFor(c), readSample(t, c.file))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Parse error = %v, want %v", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), c.event) && !strings.Contains(err.Error(), "action") {
					t.Errorf("error %q names neither the event nor the action", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Kind != c.kind || ev.Type != c.typ || ev.Ref != c.ref || ev.SHA != c.sha || ev.Deleted != c.deleted {
				t.Errorf("got kind=%s type=%s ref=%q sha=%s deleted=%v, want %s %s %q %s %v",
					ev.Kind, ev.Type, ev.Ref, ev.SHA, ev.Deleted, c.kind, c.typ, c.ref, c.sha, c.deleted)
			}
			if ev.DeliveryID == "" {
				t.Error("empty delivery ID")
			}
			if c.typ == EventMergeRequest {
				if ev.MR == nil || ev.MR.IID != c.iid || ev.MR.Action != c.action || ev.MR.SourceSHA != c.sha || ev.MR.SourceBranch != c.ref {
					t.Fatalf("MR = %+v, want iid %d action %s", ev.MR, c.iid, c.action)
				}
			} else if ev.MR != nil {
				t.Errorf("MR set on a %s event", ev.Type)
			}
			checkGolden(t, c.name, ev)
		})
	}
}

func checkGolden(t *testing.T, name string, ev Event) {
	t.Helper()
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("event differs from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// Every sample under testdata is in the table, so none is silently
// untested.
func TestEverySampleInTable(t *testing.T) {
	var used []string
	for _, c := range parseCases {
		used = append(used, c.file)
	}
	for _, k := range Kinds() {
		files, err := filepath.Glob(filepath.Join("testdata", string(k), "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			rel, _ := filepath.Rel("testdata", f)
			if !slices.Contains(used, filepath.ToSlash(rel)) {
				t.Errorf("sample %s has no parse case", rel)
			}
		}
	}
}

func TestParseSkipMarkersReachSkipCI(t *testing.T) {
	for name, want := range map[string]bool{"github-push-skip": true, "gitlab-push": true, "github-push": false, "gitea-push": false} {
		c := caseByName(t, name)
		ev, err := Parse(c.kind, headersFor(c), readSample(t, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := SkipCI(ev.Message); got != want {
			t.Errorf("%s: SkipCI(%q) = %v, want %v", name, ev.Message, got, want)
		}
	}
}

func TestGitLabDeliveryIDWithoutHeadersIsStable(t *testing.T) {
	body := readSample(t, "gitlab/push.json")
	h := http.Header{HeaderGitLabEvent: {"Push Hook"}}
	a, err := Parse(KindGitLab, h, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(KindGitLab, h, slices.Clone(body))
	if err != nil {
		t.Fatal(err)
	}
	if a.DeliveryID != b.DeliveryID || !strings.HasPrefix(a.DeliveryID, "sha256-") {
		t.Errorf("retried body got IDs %q and %q, want the same sha256- ID", a.DeliveryID, b.DeliveryID)
	}
	other := bytes.Replace(body, []byte(`"total_commits_count": 2`), []byte(`"total_commits_count": 3`), 1)
	c, err := Parse(KindGitLab, h, other)
	if err != nil {
		t.Fatal(err)
	}
	if c.DeliveryID == a.DeliveryID {
		t.Error("different bodies got the same derived delivery ID")
	}
}

func TestParseFormEncodedBody(t *testing.T) {
	for _, c := range []parseCase{caseByName(t, "github-push"), caseByName(t, "gitea-push")} {
		body := readSample(t, c.file)
		want, err := Parse(c.kind, headersFor(c), body)
		if err != nil {
			t.Fatal(err)
		}
		h := headersFor(c)
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		got, err := Parse(c.kind, h, []byte(url.Values{"payload": {string(body)}}.Encode()))
		if err != nil {
			t.Fatalf("%s form body: %v", c.name, err)
		}
		if got.SHA != want.SHA || got.Ref != want.Ref || got.Message != want.Message {
			t.Errorf("%s: form body parsed to %+v, JSON to %+v", c.name, got, want)
		}
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	const sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	ghPush := func(ref, after string) string {
		return `{"ref":"` + ref + `","before":"` + sha + `","after":"` + after + `"}`
	}
	tests := []struct {
		name  string
		kind  Kind
		event string
		body  string
		want  error
	}{
		{"not json", KindGitHub, "push", `{"ref": refs/heads/main`, ErrMalformed},
		{"json array", KindGitLab, "Push Hook", `[1,2,3]`, ErrMalformed},
		{"wrong field type", KindGitea, "push", `{"ref": 42}`, ErrMalformed},
		{"null body", KindGitHub, "push", `null`, ErrMalformed},
		{"empty body", KindGitea, "pull_request", ``, ErrMalformed},
		{"missing event header", KindGitHub, "", ghPush("refs/heads/main", sha), ErrMalformed},
		{"ref is option-like", KindGitHub, "push", ghPush("refs/heads/-upload-pack=evil", sha), ErrMalformed},
		{"ref with dotdot", KindGitHub, "push", ghPush("refs/heads/a..b", sha), ErrMalformed},
		{"ref with space", KindGitea, "push", ghPush("refs/heads/a b", sha), ErrMalformed},
		{"empty branch name", KindGitHub, "push", ghPush("refs/heads/", sha), ErrMalformed},
		{"sha not hex", KindGitHub, "push", ghPush("refs/heads/main", "zz1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"), ErrMalformed},
		{"sha short", KindGitea, "push", ghPush("refs/heads/main", "0d1a26e"), ErrMalformed},
		{"notes ref", KindGitHub, "push", ghPush("refs/notes/commits", sha), ErrIgnored},
		{"object_kind mismatch", KindGitLab, "Push Hook", `{"object_kind":"merge_request","ref":"refs/heads/main","after":"` + sha + `"}`, ErrMalformed},
		{"mr without attributes", KindGitLab, "Merge Request Hook", `{"object_kind":"merge_request"}`, ErrMalformed},
		{"pr without head", KindGitHub, "pull_request", `{"action":"opened","number":3,"pull_request":{"base":{"ref":"main","sha":"` + sha + `"}}}`, ErrMalformed},
		{"pr number zero", KindGitea, "pull_request", `{"action":"opened","pull_request":{"head":{"ref":"x","sha":"` + sha + `"},"base":{"ref":"main"}}}`, ErrMalformed},
		{"clone url option-like", KindGitHub, "push", `{"ref":"refs/heads/main","after":"` + sha + `","repository":{"clone_url":"--config=core.sshCommand=x"}}`, ErrMalformed},
		{"too large", KindGitHub, "push", `{"ref":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.event != "" {
				h.Set(EventHeader(tt.kind), tt.event)
			}
			ev, err := Parse(tt.kind, h, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want error %v", ev, err, tt.want)
			}
		})
	}
}

func TestParseUnknownKind(t *testing.T) {
	if _, err := Parse("bitbucket", http.Header{}, []byte(`{}`)); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v, want ErrUnknownKind", err)
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"github": KindGitHub, "GitLab": KindGitLab, " gitea ": KindGitea} {
		got, err := ParseKind(in)
		if err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "bitbucket", "git hub"} {
		if _, err := ParseKind(in); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q) error = %v, want ErrUnknownKind", in, err)
		}
	}
}

// A delivery built from EventHeader and EventName parses back to the event
// type asked for, so `gantry hook test` can build deliveries from them.
func TestEventNameRoundTrip(t *testing.T) {
	samples := map[Kind]map[EventType]string{
		KindGitHub: {EventPush: "github/push.json", EventTagPush: "github/push_tag.json", EventMergeRequest: "github/pull_request_opened.json", EventPing: "github/ping.json"},
		KindGitLab: {EventPush: "gitlab/push.json", EventTagPush: "gitlab/tag_push.json", EventMergeRequest: "gitlab/mr_open.json"},
		KindGitea:  {EventPush: "gitea/push.json", EventTagPush: "gitea/push_tag.json", EventMergeRequest: "gitea/pull_request_opened.json"},
	}
	for _, k := range Kinds() {
		for _, typ := range []EventType{EventPush, EventTagPush, EventMergeRequest, EventPing} {
			name := EventName(k, typ)
			file, ok := samples[k][typ]
			if (name == "") != !ok {
				t.Errorf("EventName(%s, %s) = %q, sample known: %v", k, typ, name, ok)
			}
			if !ok {
				continue
			}
			body := readSample(t, file)
			h := Sign(k, body, "s3cret")
			h.Set(EventHeader(k), name)
			ev, err := Parse(k, h, body)
			if err != nil || ev.Type != typ {
				t.Errorf("%s %s: Parse = %s, %v", k, typ, ev.Type, err)
			}
		}
	}
}
