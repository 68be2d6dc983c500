package plan

import (
	"strings"
	"testing"
	"time"
)

func TestPredefinedVariables(t *testing.T) {
	const one = "build:\n  script: make\n  only: [branches, tags, merge_requests]\n"
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	runCases(t, []planCase{
		{
			name: "branch push",
			yaml: one,
			in: with(pushFeature, func(in *Input) {
				in.Commit.BeforeSHA = "fedcba9876543210fedcba9876543210fedcba98"
				in.Commit.Author = "Ada <ada@example.com>"
				in.Commit.Timestamp = created
				in.Now = created
				in.PipelineID, in.PipelineIID = 1234, 56
				in.Project.Dir = "/builds/group/app"
			}),
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				for name, want := range map[string]string{
					"CI": "true", "GITLAB_CI": "true",
					"CI_COMMIT_SHA": testSHA, "CI_COMMIT_SHORT_SHA": "01234567",
					"CI_COMMIT_BEFORE_SHA": "fedcba9876543210fedcba9876543210fedcba98",
					"CI_COMMIT_BRANCH":     "feature/login", "CI_COMMIT_TAG": "<unset>",
					"CI_COMMIT_REF_NAME": "feature/login", "CI_COMMIT_REF_SLUG": "feature-login",
					"CI_COMMIT_MESSAGE": "Add login\n\nWith a form.", "CI_COMMIT_TITLE": "Add login",
					"CI_COMMIT_DESCRIPTION": "\nWith a form.", "CI_COMMIT_AUTHOR": "Ada <ada@example.com>",
					"CI_COMMIT_TIMESTAMP": "2025-03-04T05:06:07Z", "CI_PIPELINE_CREATED_AT": "2025-03-04T05:06:07Z",
					"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push",
					"CI_PIPELINE_ID": "1234", "CI_PIPELINE_IID": "56",
					"CI_PROJECT_DIR": "/builds/group/app", "CI_PROJECT_NAME": "app", "CI_PROJECT_PATH": "group/app",
					"CI_PROJECT_PATH_SLUG": "group-app", "CI_PROJECT_NAMESPACE": "group",
					"CI_PROJECT_URL": "http://localhost/group/app", "CI_SERVER_URL": "http://localhost",
					"CI_SERVER_HOST": "localhost", "CI_REGISTRY": "localhost:5000",
					"CI_REGISTRY_IMAGE": "localhost:5000/group/app",
					"CI_JOB_NAME":       "build", "CI_JOB_NAME_SLUG": "build", "CI_JOB_STAGE": "test",
					"CI_MERGE_REQUEST_IID": "<unset>",
				} {
					wantVar(t, vs, name, want)
				}
			},
		},
		{
			name: "tag push",
			yaml: one,
			in:   tagV123,
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				wantVar(t, vs, "CI_COMMIT_TAG", "v1.2.3")
				wantVar(t, vs, "CI_COMMIT_BRANCH", "<unset>")
				wantVar(t, vs, "CI_COMMIT_REF_SLUG", "v1-2-3")
				wantVar(t, vs, "CI_COMMIT_BEFORE_SHA", zeroSHA)
			},
		},
		{
			name: "merge request pipeline",
			yaml: one,
			in: with(mrFeature, func(in *Input) {
				in.ServerURL = "https://gitlab.example.com:8443/"
				in.Commit.BeforeSHA = "fedcba9876543210fedcba9876543210fedcba98"
			}),
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				for name, want := range map[string]string{
					"CI_COMMIT_BRANCH": "<unset>", "CI_COMMIT_TAG": "<unset>",
					"CI_COMMIT_REF_NAME": "feature/login", "CI_COMMIT_BEFORE_SHA": zeroSHA,
					"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7",
					"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
					"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_TITLE": "Login page",
					"CI_MERGE_REQUEST_LABELS": "ui,auth", "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
					"CI_MERGE_REQUEST_DRAFT": "false", "CI_OPEN_MERGE_REQUESTS": "group/app!7",
					"CI_SERVER_URL": "https://gitlab.example.com:8443", "CI_SERVER_HOST": "gitlab.example.com",
					"CI_SERVER_PORT": "8443", "CI_PROJECT_URL": "https://gitlab.example.com:8443/group/app",
				} {
					wantVar(t, vs, name, want)
				}
			},
		},
		{
			name: "precedence and expand false",
			yaml: `
variables:
  G: global
  J: global
  R: global
  I: global
  LITERAL:
    value: $G and more
    expand: false
build:
  script: make
  variables:
    J: job
    R: job
    I: job
  rules:
    - variables:
        R: rule
        I: rule`,
			in: with(pushMain, func(in *Input) { in.Variables = vars("I", "input") }),
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "build").Variables
				wantVar(t, vs, "G", "global")
				wantVar(t, vs, "J", "job")
				wantVar(t, vs, "R", "rule")
				wantVar(t, vs, "I", "input")
				for _, v := range vs {
					if v.Name == "LITERAL" && (!v.Raw || v.Value != "$G and more") {
						t.Errorf("LITERAL = %+v, want raw and unexpanded", v)
					}
				}
				seen := map[string]bool{}
				for _, v := range vs {
					if seen[v.Name] {
						t.Errorf("%s listed twice", v.Name)
					}
					seen[v.Name] = true
				}
			},
		},
		{
			name: "inherit variables",
			yaml: `
variables:
  A: a
  B: b
none:
  script: make
  inherit:
    variables: false
some:
  script: make
  inherit:
    variables: [B]`,
			in: pushMain,
			check: func(t *testing.T, p *Plan) {
				wantVar(t, jobOf(t, p, "none").Variables, "A", "<unset>")
				wantVar(t, jobOf(t, p, "none").Variables, "CI_COMMIT_SHA", testSHA)
				wantVar(t, jobOf(t, p, "some").Variables, "A", "<unset>")
				wantVar(t, jobOf(t, p, "some").Variables, "B", "b")
			},
		},
		{
			name: "environment variables expanded with the job's variables",
			yaml: `
review:
  script: deploy
  variables:
    APP: shop
  environment:
    name: review/$APP/$CI_COMMIT_REF_SLUG
    url: https://$CI_ENVIRONMENT_SLUG.example.com
prod:
  script: deploy
  environment:
    name: production
    deployment_tier: other
stop:
  script: stop
  environment:
    name: staging
    action: stop`,
			in: pushFeature,
			check: func(t *testing.T, p *Plan) {
				vs := jobOf(t, p, "review").Variables
				wantVar(t, vs, "CI_ENVIRONMENT_NAME", "review/shop/feature-login")
				wantVar(t, vs, "CI_ENVIRONMENT_TIER", "development")
				wantVar(t, vs, "CI_ENVIRONMENT_ACTION", "start")
				slug, _ := varOf(vs, "CI_ENVIRONMENT_SLUG")
				if len(slug) > 24 || !strings.HasPrefix(slug, "review-shop-featu") {
					t.Errorf("slug = %q", slug)
				}
				wantVar(t, vs, "CI_ENVIRONMENT_URL", "https://"+slug+".example.com")
				wantVar(t, jobOf(t, p, "prod").Variables, "CI_ENVIRONMENT_SLUG", "production")
				wantVar(t, jobOf(t, p, "prod").Variables, "CI_ENVIRONMENT_TIER", "other")
				wantVar(t, jobOf(t, p, "prod").Variables, "CI_ENVIRONMENT_URL", "<unset>")
				wantVar(t, jobOf(t, p, "stop").Variables, "CI_ENVIRONMENT_ACTION", "stop")
				wantVar(t, jobOf(t, p, "stop").Variables, "CI_ENVIRONMENT_TIER", "staging")
			},
		},
	})
}

func TestSlugs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"main", "main"},
		{"Feature/Login_Page", "feature-login-page"},
		{"-release-", "release"},
		{"über/ß", "ber"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{strings.Repeat("a", 62) + "/b", strings.Repeat("a", 62)},
	} {
		if got := slugify(c.in); got != c.want {
			t.Errorf("slugify(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"production", "production"},
		{"Production", ""},
		{"review/feature", ""},
		{"1st", ""},
	} {
		got := environmentSlug(c.in)
		if c.want != "" && got != c.want {
			t.Errorf("environmentSlug(%q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) > 24 || got[0] < 'a' || got[0] > 'z' || strings.HasSuffix(got, "-") {
			t.Errorf("environmentSlug(%q) = %q is not DNS-safe", c.in, got)
		}
		if c.want == "" && got == environmentSlug(c.in+"x") {
			t.Errorf("environmentSlug(%q) collides with a longer name", c.in)
		}
	}
	if environmentSlug("Production") == environmentSlug("production") {
		t.Error("an uppercase name shares its slug with the lowercase one")
	}
}

// TestVariableLayersAgree checks the fast merge of variable layers against
// the plain one on names that appear in every layer.
func TestVariableLayersAgree(t *testing.T) {
	p := loadYAML(t, `
variables:
  CI_JOB_STAGE: global-stage
  CI_COMMIT_SHA: global-sha
  SHARED: global
  G: g
workflow:
  rules:
    - variables:
        SHARED: workflow
        W: w
build:
  script: make
`)
	in := with(pushMain, func(in *Input) { in.Variables = vars("SHARED", "input", "I", "i", "I", "i2") })
	pl := newPlanner(p, in)
	pl.workflow = p.Workflow.Rules[0].Variables
	pl.workflowIdx = indexOf(pl.workflow)
	pl.prepareBase()
	inst := &instance{name: "build", base: "build"}
	s := &scope{pl: pl, jobPre: jobPredefined(inst, "test"),
		job:  vars("SHARED", "job", "J", "j", "CI_NODE_TOTAL", "job-total", "J", "j2"),
		rule: vars("SHARED", "rule", "R", "r")}
	fast, slow := s.all(), s.allSlow()
	if len(fast) != len(slow) {
		t.Fatalf("fast merge has %d variables, plain one %d", len(fast), len(slow))
	}
	for i := range fast {
		if fast[i].Name != slow[i].Name || fast[i].Value != slow[i].Value {
			t.Errorf("variable %d: fast %s=%q, plain %s=%q", i, fast[i].Name, fast[i].Value, slow[i].Name, slow[i].Value)
		}
	}
	for name, want := range map[string]string{"SHARED": "input", "CI_JOB_STAGE": "global-stage",
		"CI_COMMIT_SHA": "global-sha", "CI_NODE_TOTAL": "job-total", "J": "j2", "I": "i2", "W": "w", "G": "g"} {
		wantVar(t, fast, name, want)
	}
}
