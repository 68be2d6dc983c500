package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Defaults for what a local run cannot know from a GitLab instance.
const (
	defaultServerURL = "http://localhost"
	defaultRegistry  = "localhost:5000"
	defaultBranch    = "main"
	zeroSHA          = "0000000000000000000000000000000000000000"
)

// jobOnly are predefined variables GitLab documents as "Job-only": they are
// set when a runner picks the job up, so workflow:rules and rules never see
// them even though the job's environment has them.
var jobOnly = map[string]bool{
	"CI_PIPELINE_ID":         true,
	"CI_PIPELINE_CREATED_AT": true,
	"CI_PROJECT_DIR":         true,
	"CI_PIPELINE_URL":        true,
}

// normalize fills the defaults of an Input so that the rest of the planner
// never has to check for zero values.
func normalize(in Input) Input {
	if in.Source == "" {
		in.Source = SourcePush
	}
	if in.ServerURL == "" {
		in.ServerURL = defaultServerURL
	}
	in.ServerURL = strings.TrimRight(in.ServerURL, "/")
	if in.Project.DefaultBranch == "" {
		in.Project.DefaultBranch = defaultBranch
	}
	if in.Project.Path == "" {
		in.Project.Path = in.Project.Name
	}
	if in.Project.Name == "" {
		in.Project.Name = path.Base(in.Project.Path)
		if in.Project.Name == "." || in.Project.Name == "/" {
			in.Project.Name = ""
		}
	}
	if in.Project.URL == "" && in.Project.Path != "" {
		in.Project.URL = in.ServerURL + "/" + in.Project.Path
	}
	if in.PipelineID == 0 {
		in.PipelineID = 1
	}
	if in.PipelineIID == 0 {
		in.PipelineIID = 1
	}
	if in.Ref == "" && in.MergeRequest != nil {
		in.Ref = in.MergeRequest.SourceBranch
	}
	return in
}

// isMergeRequest tells whether this is a merge request pipeline, whose ref
// is neither a branch nor a tag for only/except and CI_COMMIT_BRANCH.
func (in *Input) isMergeRequest() bool { return in.Source == SourceMergeRequest }

// isBranch mirrors GitLab's Pipeline#branch?: not a tag and not a merge
// request pipeline, whatever the source.
func (in *Input) isBranch() bool { return !in.IsTag && !in.isMergeRequest() }

// predefined builds the pipeline-level predefined variables, in the order
// GitLab's documentation lists them by theme.
// Predefined returns the pipeline-level predefined variables (CI_COMMIT_*,
// CI_PIPELINE_SOURCE, …) for in, with in.Variables above them: what
// include:rules may test before the pipeline is compiled.
func Predefined(in Input) []pipeline.Variable {
	in = normalize(in)
	return append(predefined(&in, ""), in.Variables...)
}

func predefined(in *Input, pipelineName string) []pipeline.Variable {
	vs := make([]pipeline.Variable, 0, 64)
	add := func(name, value string) {
		vs = append(vs, pipeline.Variable{Name: name, Value: value})
	}
	add("CI", "true")
	add("GITLAB_CI", "true")
	add("CI_SERVER", "yes")

	server := in.ServerURL
	add("CI_SERVER_URL", server)
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		add("CI_SERVER_HOST", u.Hostname())
		add("CI_SERVER_PORT", port)
		add("CI_SERVER_PROTOCOL", u.Scheme)
		add("CI_SERVER_FQDN", u.Host)
	}
	add("CI_SERVER_NAME", "GitLab")
	add("CI_API_V4_URL", server+"/api/v4")

	sha := in.Commit.SHA
	add("CI_COMMIT_SHA", sha)
	add("CI_COMMIT_SHORT_SHA", shortSHA(sha))
	before := in.Commit.BeforeSHA
	if before == "" || in.isMergeRequest() {
		before = zeroSHA
	}
	add("CI_COMMIT_BEFORE_SHA", before)
	if in.IsTag {
		add("CI_COMMIT_TAG", in.Ref)
	} else if !in.isMergeRequest() {
		add("CI_COMMIT_BRANCH", in.Ref)
	}
	add("CI_COMMIT_REF_NAME", in.Ref)
	add("CI_COMMIT_REF_SLUG", slugify(in.Ref))
	msg := in.Commit.Message
	title, description := commitTitle(msg)
	add("CI_COMMIT_MESSAGE", msg)
	add("CI_COMMIT_TITLE", title)
	add("CI_COMMIT_DESCRIPTION", description)
	if in.Commit.Author != "" {
		add("CI_COMMIT_AUTHOR", in.Commit.Author)
	}
	if !in.Commit.Timestamp.IsZero() {
		add("CI_COMMIT_TIMESTAMP", in.Commit.Timestamp.Format(time.RFC3339))
	}
	add("CI_DEFAULT_BRANCH", in.Project.DefaultBranch)
	add("CI_DEFAULT_BRANCH_SLUG", slugify(in.Project.DefaultBranch))

	add("CI_PIPELINE_SOURCE", in.Source)
	add("CI_PIPELINE_ID", strconv.FormatInt(in.PipelineID, 10))
	add("CI_PIPELINE_IID", strconv.FormatInt(in.PipelineIID, 10))
	if pipelineName != "" {
		add("CI_PIPELINE_NAME", pipelineName)
	}
	if in.Source == SourceTrigger {
		add("CI_PIPELINE_TRIGGERED", "true")
	}
	if !in.Now.IsZero() {
		add("CI_PIPELINE_CREATED_AT", in.Now.UTC().Format(time.RFC3339))
	}

	pr := in.Project
	if pr.Dir != "" {
		add("CI_PROJECT_DIR", pr.Dir)
	}
	add("CI_PROJECT_NAME", pr.Name)
	add("CI_PROJECT_PATH", pr.Path)
	add("CI_PROJECT_PATH_SLUG", slugify(pr.Path))
	namespace := path.Dir(pr.Path)
	if namespace == "." || namespace == "/" {
		namespace = ""
	}
	add("CI_PROJECT_NAMESPACE", namespace)
	add("CI_PROJECT_NAMESPACE_SLUG", slugify(namespace))
	add("CI_PROJECT_ROOT_NAMESPACE", strings.SplitN(namespace, "/", 2)[0])
	add("CI_PROJECT_URL", pr.URL)
	add("CI_REGISTRY", defaultRegistry)
	add("CI_REGISTRY_IMAGE", defaultRegistry+"/"+strings.ToLower(pr.Path))
	if in.KubernetesActive {
		add("CI_KUBERNETES_ACTIVE", "true")
	}

	if mr := in.MergeRequest; mr != nil && in.isMergeRequest() {
		iid := strconv.FormatInt(mr.IID, 10)
		add("CI_MERGE_REQUEST_ID", iid)
		add("CI_MERGE_REQUEST_IID", iid)
		add("CI_MERGE_REQUEST_TITLE", mr.Title)
		add("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", mr.SourceBranch)
		add("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", mr.TargetBranch)
		add("CI_MERGE_REQUEST_EVENT_TYPE", "detached")
		add("CI_MERGE_REQUEST_DRAFT", strconv.FormatBool(mr.Draft))
		if len(mr.Labels) > 0 {
			add("CI_MERGE_REQUEST_LABELS", strings.Join(mr.Labels, ","))
		}
		add("CI_MERGE_REQUEST_REF_PATH", "refs/merge-requests/"+iid+"/head")
		add("CI_MERGE_REQUEST_PROJECT_PATH", pr.Path)
		add("CI_MERGE_REQUEST_PROJECT_URL", pr.URL)
		add("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", pr.Path)
		add("CI_MERGE_REQUEST_SOURCE_PROJECT_URL", pr.URL)
		add("CI_OPEN_MERGE_REQUESTS", pr.Path+"!"+iid)
	}
	return vs
}

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// commitTitle splits a message the way GitLab's CI_COMMIT_TITLE and
// CI_COMMIT_DESCRIPTION do: the description is the message without its
// first line when that line is shorter than 100 characters, else the whole
// message.
func commitTitle(msg string) (title, description string) {
	title, rest, _ := strings.Cut(msg, "\n")
	title = strings.TrimRight(title, "\r")
	if len([]rune(title)) < 100 {
		return title, rest
	}
	return title, msg
}

// slugify is GitLab's ref slug: lowercase, everything but [a-z0-9] replaced
// by '-', cut to 63 bytes, no leading or trailing '-'.
func slugify(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b = append(b, byte(r))
		} else {
			b = append(b, '-')
		}
		if len(b) == 63 {
			break
		}
	}
	return strings.Trim(string(b), "-")
}

// environmentSlug follows GitLab's rules for CI_ENVIRONMENT_SLUG: DNS-safe,
// starting with a letter, at most 24 characters, with a suffix when the
// name had to be changed so that two names never share a slug. GitLab's
// suffix is random; this one is derived from the name so plans are
// reproducible.
func environmentSlug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			continue
		}
		if s := b.String(); !strings.HasSuffix(s, "-") {
			b.WriteByte('-')
		}
	}
	slug := b.String()
	if slug == "" || slug[0] < 'a' || slug[0] > 'z' {
		slug = "env-" + slug
	}
	if slug == name && len(slug) <= 24 && !strings.HasSuffix(slug, "-") {
		return slug
	}
	if len(slug) > 17 {
		slug = slug[:17]
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(slug, "-") + "-" + hex.EncodeToString(sum[:3])
}

// Deployment tiers GitLab guesses from an environment name when
// deployment_tier is not given.
var tierGuesses = []struct {
	re   *regexp.Regexp
	tier string
}{
	{regexp.MustCompile(`(?i)(dev|review|trunk)`), "development"},
	{regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`), "testing"},
	{regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`), "staging"},
	{regexp.MustCompile(`(?i)(pr(o|)d|live)`), "production"},
}

func guessTier(name string) string {
	for _, g := range tierGuesses {
		if g.re.MatchString(name) {
			return g.tier
		}
	}
	return "other"
}

// jobPredefined is what GitLab adds per job at pipeline creation: the job's
// name, stage, parallel index and (when it has one) environment.
func jobPredefined(inst *instance, stage string) []pipeline.Variable {
	vs := make([]pipeline.Variable, 0, 8)
	add := func(name, value string) {
		vs = append(vs, pipeline.Variable{Name: name, Value: value})
	}
	add("CI_JOB_NAME", inst.name)
	add("CI_JOB_NAME_SLUG", slugify(inst.name))
	add("CI_JOB_GROUP_NAME", inst.base)
	add("CI_JOB_STAGE", stage)
	if inst.total > 0 {
		add("CI_NODE_INDEX", strconv.Itoa(inst.index))
		add("CI_NODE_TOTAL", strconv.Itoa(inst.total))
	} else {
		add("CI_NODE_TOTAL", "1")
	}
	return vs
}

// environmentVars are CI_ENVIRONMENT_*, with name and url expanded with the
// job's variables as GitLab does at pipeline creation.
func environmentVars(env *pipeline.Environment, s *scope) []pipeline.Variable {
	if env == nil || env.Name == "" {
		return nil
	}
	name := s.expand(env.Name, false)
	tier := env.DeploymentTier
	if tier == "" {
		tier = guessTier(name)
	}
	action := env.Action
	if action == "" {
		action = "start"
	}
	vs := []pipeline.Variable{
		{Name: "CI_ENVIRONMENT_NAME", Value: name},
		{Name: "CI_ENVIRONMENT_SLUG", Value: environmentSlug(name)},
		{Name: "CI_ENVIRONMENT_TIER", Value: tier},
		{Name: "CI_ENVIRONMENT_ACTION", Value: action},
	}
	if env.URL != "" {
		// The URL may use the name and slug, as GitLab's examples do.
		withEnv := *s
		withEnv.jobPre = append(slices.Clip(s.jobPre), vs...)
		vs = append(vs, pipeline.Variable{Name: "CI_ENVIRONMENT_URL", Value: withEnv.expand(env.URL, false)})
	}
	return vs
}

// dedupe keeps one variable per name, the last one given, at the place of
// that last definition: the result lists every layer's winners in
// precedence order.
func dedupe(vs []pipeline.Variable) []pipeline.Variable {
	last := make(map[string]int, len(vs))
	for i, v := range vs {
		last[v.Name] = i
	}
	out := make([]pipeline.Variable, 0, len(last))
	for i, v := range vs {
		if last[v.Name] == i {
			out = append(out, v)
		}
	}
	return out
}

func indexOf(vs []pipeline.Variable) map[string]int {
	m := make(map[string]int, len(vs))
	for i, v := range vs {
		m[v.Name] = i
	}
	return m
}
