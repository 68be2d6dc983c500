package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsMasked checks that a --secret value, and the lines of a
// multi-line --secret-file value, never reach stdout, --json output or the
// log files, however the job prints them, and that [MASKED] shows where
// they were.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	const certLine1, certLine2 = "-----BEGIN-KEY-LINE-ONE", "MIIEvQIBADANBgkqhkiG9w0BAQ"
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
stages: [build, test]
leak:
  stage: build
  script:
    - echo "token is $TOKEN"
    - printf 's3cr3t-'; sleep 0.2; printf 'value\n'
    - printf '%s' "${TOKEN:0:6}"; printf '%s\n' "${TOKEN:6}"
    - 'printf "header\nthe token: %s\nfooter\n" "$TOKEN"'
    - echo s3cr3t-value
    - env | grep TOKEN
    - echo "$CERT"
    - echo "$CERT" | tail -n 1
  after_script:
    - echo "after $TOKEN"
dotenv-leak:
  stage: build
  script: [echo "DERIVED=$TOKEN" > build.env]
  artifacts: {reports: {dotenv: build.env}}
reader:
  stage: test
  needs: [dotenv-leak]
  script: [echo "derived $DERIVED"]
`})
	certFile := filepath.Join(t.TempDir(), "cert")
	if err := os.WriteFile(certFile, []byte(certLine1+"\n"+certLine2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--secret", "TOKEN=" + secret, "--secret-file", "CERT=" + certFile}
	plain := r.mustRun(0, args...)
	asJSON := r.mustRun(0, append(args, "--json")...)
	outputs := map[string]string{
		"stdout":        plain.stdout + plain.stderr,
		"--json stdout": asJSON.stdout + asJSON.stderr,
	}
	for n := 1; n <= 2; n++ {
		for _, job := range []string{"leak", "dotenv-leak", "reader"} {
			outputs[fmt.Sprintf("run %d logs/%s.log", n, job)] = r.jobLog(n, job)
		}
	}
	for where, text := range outputs {
		for _, s := range []string{secret, certLine1, certLine2} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q:\n%s", where, s, text)
			}
		}
	}
	lines := linesOf(plain.stdout, "leak")
	for _, want := range []string{
		"token is [MASKED]",
		"[MASKED]",
		"the token: [MASKED]",
		"TOKEN=[MASKED]",
		"after [MASKED]",
		"header",
		"footer",
	} {
		if !hasLine(lines, want) {
			t.Errorf("[leak] lacks line %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if got := linesOf(plain.stdout, "reader"); !hasLine(got, "derived [MASKED]") {
		t.Errorf("a secret passed on through a dotenv report is not masked:\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(jobLogText(events(t, asJSON.stdout), "leak"), "token is [MASKED]") {
		t.Errorf("--json job_log chunks do not show [MASKED]")
	}
}

// TestSecretsMaskedInPlan checks that --list, which explains rules with
// the values they compared, does not show a --secret either.
func TestSecretsMaskedInPlan(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	r := newRepo(t, map[string]string{".gitlab-ci.yml": `
deploy:
  rules:
    - if: $TOKEN == "s3cr3t-value"
  script: [echo deploy]
`})
	for _, args := range [][]string{{"run", "--list"}, {"run", "--dry-run"}} {
		res := r.mustRun(0, append(args, "--secret", "TOKEN="+secret)...)
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Errorf("gantry %s shows the secret:\n%s%s", strings.Join(args, " "), res.stdout, res.stderr)
		}
		if !strings.Contains(res.stdout, "deploy") {
			t.Errorf("gantry %s does not list the job:\n%s", strings.Join(args, " "), res.stdout)
		}
	}
}
