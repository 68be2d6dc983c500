package forge

import "testing"

func BenchmarkVerify(b *testing.B) {
	body := readSample(b, "github/push.json")
	for _, k := range Kinds() {
		h := Sign(k, body, testSecret)
		b.Run(string(k), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := Verify(k, h, body, testSecret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"github-push", "gitlab-push", "gitea-push", "github-pr-opened", "gitlab-mr-open"} {
		c := caseByName(b, name)
		body := readSample(b, c.file)
		h := headersFor(c)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Parse(c.kind, h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
