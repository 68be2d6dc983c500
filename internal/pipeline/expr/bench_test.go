package expr

import "testing"

func BenchmarkEval(b *testing.B) {
	vars := lookupMap(map[string]string{
		"CI_COMMIT_BRANCH":   "feature/login",
		"CI_DEFAULT_BRANCH":  "main",
		"CI_PIPELINE_SOURCE": "merge_request_event",
		"CI_COMMIT_TAG":      "v1.2.3",
		"RELEASE_PATTERN":    "/^v\\d+\\.\\d+/",
	})
	benches := []struct{ name, src string }{
		{"equality", `$CI_PIPELINE_SOURCE == "merge_request_event"`},
		{"typical", `($CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH || $CI_COMMIT_BRANCH =~ /^feature\//) && $CI_PIPELINE_SOURCE != "schedule"`},
		{"regex_literal", `$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/i`},
		{"regex_variable", `$CI_COMMIT_TAG =~ $RELEASE_PATTERN`},
	}
	for _, bc := range benches {
		e, err := Parse(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Eval(vars)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	src := `($CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH || $CI_COMMIT_BRANCH =~ /^feature\//) && $CI_PIPELINE_SOURCE != "schedule"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
