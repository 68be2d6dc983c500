package ui

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/store"
)

func TestLogHTML(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{"plain lines are escaped", "a <b> & \"c\"\n\nend\n",
			"a &lt;b&gt; &amp; &#34;c&#34;\n\nend\n"},
		{"colours become classes and carry over lines", "\x1b[32;1mok\nstill\x1b[0m plain\n",
			"<span class=\"fg2 b\">ok</span>\n<span class=\"fg2 b\">still</span> plain\n"},
		{"bright, background and resets", "\x1b[91;44mX\x1b[39mY\x1b[49mZ\n",
			"<span class=\"fg9 bg4\">X</span><span class=\"bg4\">Y</span>Z\n"},
		{"256 and true colours map to the nearest of 16", "\x1b[38;5;196mred\x1b[38;2;0;0;0mblack\x1b[m\n",
			"<span class=\"fg9\">red</span><span class=\"fg0\">black</span>\n"},
		{"a carriage return starts the line over", "10%\r50%\r100%\r\n",
			"100%\n"},
		{"other escapes vanish", "\x1b[2K\x1b]0;title\x07x\x1b[1Ay\n",
			"xy\n"},
		{"sections collapse with their duration and start time",
			"\x1b[0Ksection_start:1700000000:build\r\x1b[0K\x1b[36mBuilding\x1b[0m\nstep\n\x1b[0Ksection_end:1700000065:build\r\x1b[0K\nafter\n",
			`<details class="sec" open><summary><span class="fg6">Building</span><span class="sec-t">22:13:20</span><span class="sec-d">1m 05s</span></summary>` +
				"<div class=\"sec-b\">step\n</div></details>after\n"},
		{"collapsed=true starts closed; nested sections close with their parent",
			"section_start:10:outer[collapsed=true]\rOuter\nsection_start:11:inner\rInner\nx\nsection_end:12:outer\r\n",
			`<details class="sec"><summary>Outer<span class="sec-t">00:00:10</span><span class="sec-d">2s</span></summary><div class="sec-b">` +
				"<details class=\"sec\" open><summary>Inner<span class=\"sec-t\">00:00:11</span></summary><div class=\"sec-b\">x\n</div></details>" +
				`</div></details>`},
		{"an unclosed section is closed at the end", "section_start:1:s\rS\nx\n",
			"<details class=\"sec\" open><summary>S<span class=\"sec-t\">00:00:01</span></summary><div class=\"sec-b\">x\n</div></details>"},
		{"an end without a start is dropped", "section_end:1:nope\r\nx\n", "x\n"},
		{"invalid UTF-8 is replaced", "a\xffb\n", "a\uFFFDb\n"},
		{"an empty log renders nothing", "", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(logHTML([]byte(tt.log))); got != tt.want {
				t.Errorf("logHTML(%q)\n got %s\nwant %s", tt.log, got, tt.want)
			}
		})
	}
}

// ourTags are the only tags logHTML writes.
var ourTags = regexp.MustCompile(`</?(div|span|details|summary)( class="[a-z0-9 -]+")?( open)?>`)

func FuzzLogHTML(f *testing.F) {
	for _, seed := range []string{
		"plain\n", "\x1b[31mred\x1b[0m\n", "\x1b[38;5;300;48;2;1;2mx", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
		"section_start:1:a\rA\nsection_end:2:a\r\n", "section_start:1:a[collapsed=true]\r\x1b[0Kh\n<script>alert(1)</script>\n",
		"a\r\rb\r\n\x1b[", "\x00\x07\x1b\x1b[[m", "section_end:9:x\rrest\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := string(logHTML(data))
		for _, tag := range []string{"div", "span", "details", "summary"} {
			if o, c := strings.Count(out, "<"+tag), strings.Count(out, "</"+tag+">"); o != c {
				t.Fatalf("%d <%s> opened, %d closed in %q", o, tag, c, out)
			}
		}
		// Once our own tags are gone, no markup from the log is left.
		text := ourTags.ReplaceAllString(out, "")
		if strings.ContainsAny(text, "<>") {
			t.Fatalf("markup from the log leaked into %q", out)
		}
		if strings.ContainsRune(html.UnescapeString(text), 0x1b) {
			t.Fatalf("an escape character reached the page: %q", out)
		}
	})
}

func TestLastPerRef(t *testing.T) {
	var pipes []*store.Pipeline
	for i, ref := range []string{"feature", "main", "feature", "fix", "main"} {
		pipes = append(pipes, &store.Pipeline{ID: int64(9 - i), Ref: ref})
	}
	got := lastPerRef(pipes, "main", 2)
	if len(got) != 2 || got[0].Ref != "main" || got[0].Pipeline.ID != 8 || got[1].Ref != "feature" || got[1].Pipeline.ID != 9 {
		t.Fatalf("want main #8 then feature #9, got %+v", got)
	}
}

func TestParseVariables(t *testing.T) {
	vars, err := parseVariables("A=1\r\n\n# comment\nB = two=2\n")
	if err != nil || len(vars) != 2 || vars["A"] != "1" || vars["B"] != " two=2" {
		t.Fatalf("got %v, %v", vars, err)
	}
	for _, bad := range []string{"novalue", "1A=x", "A-B=x"} {
		if _, err := parseVariables(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/shop/-/pipelines": "/shop/-/pipelines", "//evil.example/x": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := localPath(in, "/"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
