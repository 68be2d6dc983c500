package forge

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		body, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kindIndex(c.kind), c.event, body, false)
	}
	f.Add(uint8(0), "push", []byte(`{"ref":"refs/heads/","after":"0000000000000000000000000000000000000000"}`), false)
	f.Add(uint8(1), "Push Hook", []byte(`payload=%7B%7D`), true)
	f.Add(uint8(2), "pull_request", []byte(`{"action":"opened","number":-1}`), false)
	f.Fuzz(func(t *testing.T, k uint8, event string, body []byte, form bool) {
		kinds := Kinds()
		kind := kinds[int(k)%len(kinds)]
		h := http.Header{}
		h.Set(EventHeader(kind), event)
		if form {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		ev, err := Parse(kind, h, body)
		if err != nil {
			// Every failure must tell the server which status to answer.
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIgnored) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if ev.Kind != kind || ev.DeliveryID == "" {
			t.Fatalf("event %+v lacks kind or delivery ID", ev)
		}
		switch ev.Type {
		case EventPush, EventTagPush:
			if ev.Ref == "" || !strings.HasSuffix(ev.FullRef, "/"+ev.Ref) || !validRefName(ev.Ref) {
				t.Fatalf("%s with ref %q / %q", ev.Type, ev.Ref, ev.FullRef)
			}
			if _, err := normSHA("sha", ev.SHA); err != nil {
				t.Fatalf("%s with sha %q", ev.Type, ev.SHA)
			}
		case EventMergeRequest:
			if ev.MR == nil || ev.MR.IID <= 0 || ev.Ref == "" || ev.SHA != ev.MR.SourceSHA || !validRefName(ev.MR.TargetBranch) {
				t.Fatalf("merge request event %+v, MR %+v", ev, ev.MR)
			}
		case EventPing:
		default:
			t.Fatalf("unexpected type %q", ev.Type)
		}
		if strings.HasPrefix(ev.RepoURL, "-") || len(ev.Message) > maxMessage {
			t.Fatalf("unsafe fields in %+v", ev)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), []byte(`{"ref":"refs/heads/main"}`), "s3cret", uint(3), byte(1))
	f.Add(uint8(1), []byte(`{}`), "token", uint(0), byte(0x80))
	f.Add(uint8(2), []byte("x"), "ü", uint(7), byte(0xff))
	f.Fuzz(func(t *testing.T, k uint8, body []byte, secret string, pos uint, delta byte) {
		kinds := Kinds()
		kind := kinds[int(k)%len(kinds)]
		h := Sign(kind, body, secret)
		err := Verify(kind, h, body, secret)
		if secret == "" {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("empty secret verified: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("signed body rejected: %v", err)
		}
		if len(body) == 0 || delta == 0 || kind == KindGitLab {
			// GitLab's token does not cover the body; see
			// TestVerifyGitLabTokenDoesNotCoverBody.
			return
		}
		changed := bytes.Clone(body)
		changed[pos%uint(len(body))] ^= delta
		if err := Verify(kind, h, changed, secret); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("body changed at %d verified: %v", pos%uint(len(body)), err)
		}
	})
}

func kindIndex(k Kind) uint8 {
	for i, x := range Kinds() {
		if x == k {
			return uint8(i)
		}
	}
	return 0
}
