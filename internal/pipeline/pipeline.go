// Package pipeline is Gantry's one model of a CI pipeline: the Go types every
// front end (today .gitlab-ci.yml) compiles into and every later stage (plan,
// engine, server) reads. Nothing here knows which file format a job came from.
//
// The model keeps what the source said, not what will happen: `rules`,
// `only`/`except` and `parallel` are evaluated and expanded by internal/plan for
// a given ref and event.
package pipeline

import (
	"time"
)

// Pos locates a value in a source file; Line and Col are 1-based, 0 when unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Pipeline is a whole pipeline definition after includes, extends, anchors,
// !reference and defaults have been resolved.
type Pipeline struct {
	Stages    []string   // in order, including the implicit .pre first and .post last
	Variables []Variable // global variables in file order
	Workflow  Workflow
	Includes  []Include // every include seen, resolved or not
	Inputs    []Input   // spec:inputs of the header document
	Jobs      []*Job    // visible jobs in file order (hidden .jobs are templates only)
}

// Job returns the job with that name, or nil.
func (p *Pipeline) Job(name string) *Job {
	for _, j := range p.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Variable is a CI/CD variable as written in `variables:`.
type Variable struct {
	Name        string   `json:"name"`
	Value       string   `json:"value"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
	Raw         bool     `json:"raw,omitempty"`  // expand: false — $ references stay literal
	File        bool     `json:"file,omitempty"` // file-type: the job sees a path to a file holding Value
	Secret      bool     `json:"secret,omitempty"`
	Pos         Pos      `json:"-"`
}

// Workflow is the pipeline-level `workflow:` keyword.
type Workflow struct {
	Name       string
	Rules      []Rule
	AutoCancel AutoCancel
}

// AutoCancel is workflow:auto_cancel.
type AutoCancel struct {
	OnNewCommit  string // conservative | interruptible | none
	OnJobFailure string // all | none
}

// Include is one entry of `include:`. Only Local and Remote are resolved by the
// GitLab front end; the others are kept so that planning can report them.
type Include struct {
	Kind     string // local | remote | project | template | component
	Target   string // path, URL, project path, template name or component address
	Ref      string `json:",omitempty"`
	Files    []string
	Inputs   map[string]any `json:",omitempty"`
	Rules    []Rule         `json:",omitempty"`
	Resolved bool
	Pos      Pos
}

// Input is one `spec:inputs` entry of a header document.
type Input struct {
	Name        string
	Type        string // string | number | boolean | array
	Default     any
	HasDefault  bool
	Description string
	Options     []any
	Regex       string
	Pos         Pos
}

// When is a job's or rule's `when`.
type When string

// The values `when` accepts.
const (
	WhenOnSuccess When = "on_success"
	WhenOnFailure When = "on_failure"
	WhenAlways    When = "always"
	WhenManual    When = "manual"
	WhenDelayed   When = "delayed"
	WhenNever     When = "never"
)

// Rule is one entry of `rules:` (job or workflow).
type Rule struct {
	If            string   `json:"if,omitempty"`
	Changes       *Changes `json:"changes,omitempty"`
	Exists        []string `json:"exists,omitempty"`
	When          When     `json:"when,omitempty"`
	StartIn       time.Duration
	AllowFailure  *bool      `json:"allow_failure,omitempty"`
	Variables     []Variable `json:"variables,omitempty"`
	Needs         []Need     `json:"needs,omitempty"`
	HasNeeds      bool       `json:"-"` // rules:needs was given (an empty list clears the job's needs)
	Interruptible *bool      `json:"interruptible,omitempty"`
	Pos           Pos        `json:"-"`
	IfPos         Pos        `json:"-"`
}

// Changes is `rules:changes` (a list, or `paths` + `compare_to`).
type Changes struct {
	Paths     []string
	CompareTo string
}

// Filter is `only:` or `except:` (the legacy job filters).
type Filter struct {
	Refs       []string
	Variables  []string
	Changes    []string
	Kubernetes string
	Pos        Pos
}

// AllowFailure is `allow_failure` (bool, or a list of exit codes that may fail).
type AllowFailure struct {
	Allowed   bool  // failure never fails the pipeline
	ExitCodes []int // only these exit codes are allowed to fail
}

// Need is one entry of `needs:`.
type Need struct {
	Job       string                `json:"job"`
	Artifacts bool                  `json:"artifacts"`
	Optional  bool                  `json:"optional,omitempty"`
	Pipeline  string                `json:"pipeline,omitempty"`
	Project   string                `json:"project,omitempty"`
	Ref       string                `json:"ref,omitempty"`
	Matrix    []map[string][]string `json:"matrix,omitempty"`
	Pos       Pos                   `json:"-"`
}

// Parallel is `parallel:` — a count, or a matrix of variable sets.
type Parallel struct {
	Count  int
	Matrix []map[string][]string // each entry: variable -> values (a single value is a one-item list)
	// MatrixKeys keeps each entry's variable order as written, for GitLab's job names.
	MatrixKeys [][]string
}

// Retry is `retry:`.
type Retry struct {
	Max       int
	When      []string
	ExitCodes []int
}

// Image is `image:` (or a `services:` entry).
type Image struct {
	Name       string
	Entrypoint []string
	Command    []string
	Alias      string
	PullPolicy []string
	Variables  []Variable
}

// Cache is one entry of `cache:`.
type Cache struct {
	Key          string   // expanded at run time; "default" when unset
	KeyFiles     []string // key:files
	KeyPrefix    string   // key:prefix
	Paths        []string
	Untracked    bool
	Policy       string // pull | push | pull-push
	When         string // on_success | on_failure | always
	FallbackKeys []string
	Unprotect    bool
	Pos          Pos
}

// Artifacts is `artifacts:`.
type Artifacts struct {
	Paths     []string
	Exclude   []string
	Untracked bool
	Name      string
	When      string // on_success | on_failure | always
	ExpireIn  string // kept as written ("1 week", "never"); validated by the front end
	ExposeAs  string
	Public    *bool
	Reports   Reports
}

// Reports is `artifacts:reports`. Reports Gantry does not read are kept by name.
type Reports struct {
	JUnit          []string
	Dotenv         []string
	Metrics        []string
	CoverageReport *CoverageReport
	Other          map[string][]string
}

// CoverageReport is `artifacts:reports:coverage_report`.
type CoverageReport struct {
	Format string
	Path   string
}

// Environment is `environment:`.
type Environment struct {
	Name           string
	URL            string
	Action         string // start | prepare | stop | verify | access
	OnStop         string
	AutoStopIn     string
	DeploymentTier string
	Kubernetes     map[string]any
}

// Job is one visible job after extends, default and anchors are applied.
type Job struct {
	Name string
	Pos  Pos

	Stage        string
	Image        *Image
	Services     []Image
	BeforeScript []string
	Script       []string
	AfterScript  []string
	Variables    []Variable
	Tags         []string

	Rules    []Rule
	HasRules bool
	Only     *Filter
	Except   *Filter

	When         When
	StartIn      time.Duration
	AllowFailure AllowFailure
	// Needs is nil when the job has no `needs:` (stage order applies); a
	// non-nil empty slice is `needs: []` (start at once).
	Needs           []Need
	Dependencies    []string
	HasDependencies bool
	Parallel        *Parallel
	Retry           Retry
	Timeout         time.Duration
	Interruptible   bool
	ResourceGroup   string
	Coverage        string
	Cache           []Cache
	Artifacts       *Artifacts
	Environment     *Environment

	// Inherit is `inherit:` — which `default:` keywords and global variables this job takes.
	Inherit Inherit

	// Keywords lists every keyword the job used (after extends), so that the
	// plan can say which of them will not take effect in Gantry.
	Keywords []string
	// Extra holds the raw value of keywords Gantry parses and validates but
	// does not execute (trigger, release, pages, secrets, id_tokens, hooks,
	// identity, dast_configuration, inputs, manual_confirmation).
	Extra map[string]any
}

// Inherit is a job's `inherit:` keyword.
type Inherit struct {
	Default   []string // nil: all; empty non-nil: none
	Variables []string // nil: all; empty non-nil: none
}

// NotExecuted says why a keyword that Gantry reads and validates will not
// take effect, or "" when Gantry carries it out.
func NotExecuted(keyword string) string {
	switch keyword {
	case "trigger":
		return "downstream pipelines are not run"
	case "release":
		return "releases are not created"
	case "pages":
		return "GitLab Pages are not published"
	case "secrets":
		return "external secret providers are not queried"
	case "id_tokens":
		return "OIDC ID tokens are not issued"
	case "hooks":
		return "hooks:pre_get_sources_script is not run"
	case "identity":
		return "cloud identity federation is not set up"
	case "dast_configuration":
		return "DAST profiles are not applied"
	case "inputs":
		return "job inputs are not applied"
	case "manual_confirmation":
		return "the confirmation text is shown by the web UI only"
	case "image":
		return "the shell executor runs on the host and ignores image"
	case "services":
		return "the shell executor starts no services"
	case "tags":
		return "runner tags do not select a local runner"
	case "environment:kubernetes":
		return "the Kubernetes settings of an environment are not applied"
	case "artifacts:public", "artifacts:expose_as", "cache:unprotect":
		return "has no meaning outside a GitLab server"
	}
	return ""
}
