// Package plan decides which jobs of a pipeline run for one ref, event and
// set of variables, how (when, needs, allow_failure, variables) and why —
// GitLab's workflow:rules, rules, only/except and parallel expansion as a pure
// function of its inputs.
package plan

import (
	"io/fs"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Pipeline sources, as GitLab's CI_PIPELINE_SOURCE names them.
const (
	SourcePush         = "push"
	SourceMergeRequest = "merge_request_event"
	SourceSchedule     = "schedule"
	SourceWeb          = "web"
	SourceAPI          = "api"
	SourceTrigger      = "trigger"
	SourcePipeline     = "pipeline"
)

// Input is everything besides the pipeline that a plan depends on.
type Input struct {
	Ref    string // branch or tag name
	IsTag  bool
	Source string // one of the Source* constants; default push

	// Variables given for this pipeline (command line, API, schedule,
	// trigger): they win over every variable of the file.
	Variables []pipeline.Variable

	// Changed lists the paths changed by the push or merge request.
	// ChangesKnown false means they cannot be told (a tag, a schedule, a
	// manual run): rules:changes and only:changes are then true, as in GitLab.
	Changed      []string
	ChangesKnown bool
	// ChangedSince lists the paths that differ between ref and the
	// pipeline's commit, for rules:changes:compare_to. Nil leaves
	// compare_to unanswered: Changed is used and a notice says so.
	ChangedSince func(ref string) ([]string, error)

	// Files is the repository at the pipeline's commit, for rules:exists.
	// Nil makes every exists clause false.
	Files fs.FS

	Commit           Commit
	Project          Project
	PipelineID       int64
	PipelineIID      int64
	MergeRequest     *MergeRequest
	Now              time.Time // for CI_PIPELINE_CREATED_AT and friends
	ServerURL        string    // CI_SERVER_URL; default http://localhost
	KubernetesActive bool      // only/except:kubernetes: active
}

// Commit describes the pipeline's commit.
type Commit struct {
	SHA       string
	BeforeSHA string
	Message   string
	Author    string // "Name <email>"
	Timestamp time.Time
}

// Project describes the repository being built.
type Project struct {
	Name          string // CI_PROJECT_NAME
	Path          string // CI_PROJECT_PATH, "group/name"
	Dir           string // CI_PROJECT_DIR as the job will see it
	DefaultBranch string
	URL           string
}

// MergeRequest describes a merge request pipeline's merge request.
type MergeRequest struct {
	IID          int64
	Title        string
	SourceBranch string
	TargetBranch string
	Labels       []string
	Draft        bool
}

// Plan is what will run.
type Plan struct {
	// Created is false when workflow:rules (or an empty result) prevent the
	// pipeline; Reason says why either way.
	Created bool
	Reason  string
	Name    string   // workflow:name, expanded
	Stages  []string // stages that hold at least one job, in order
	// AutoCancel is workflow:auto_cancel, for whatever cancels superseded
	// pipelines.
	AutoCancel pipeline.AutoCancel
	// Variables are the pipeline-level variables (predefined < global <
	// workflow rules < Input.Variables) every job starts from, one per
	// name.
	Variables []pipeline.Variable
	Jobs      []*Job
	Skipped   []Skipped
	// Notices are things a user must know that do not stop the pipeline,
	// such as includes that could not be resolved.
	Notices []string
}

// Job is one job instance that will be part of the pipeline. A parallel job
// becomes one Job per instance.
type Job struct {
	Name  string // instance name: "test 2/3", "build: [linux, amd64]"
	Base  string // the job's name in the file
	Stage string

	When         pipeline.When
	StartIn      time.Duration
	AllowFailure pipeline.AllowFailure
	// Needs is nil when the job waits for the earlier stages; non-nil
	// (maybe empty) when it starts as soon as these instances are done.
	Needs []Need
	// Dependencies names the instances whose artifacts the job receives;
	// nil means every job of earlier stages, as in GitLab.
	Dependencies  []string
	Interruptible bool

	// Variables is the job's full variable set in precedence order
	// (predefined < job predefined < global < workflow:rules variables <
	// job (with its parallel:matrix values) < rules:variables <
	// Input.Variables), one per name, unexpanded: the engine expands them at
	// run time. Global and workflow variables follow inherit:variables.
	Variables []pipeline.Variable

	NodeIndex, NodeTotal int // CI_NODE_INDEX / CI_NODE_TOTAL, 0 when not parallel

	// Reason says which rule or filter put the job in the pipeline.
	Reason string
	// NotExecuted lists keywords the job uses that Gantry will not carry out.
	NotExecuted []Notice

	// Def is the job's definition: scripts, cache, artifacts, timeout...
	Def *pipeline.Job
}

// Need is one resolved need: a job instance of this plan.
type Need struct {
	Job       string `json:"job"`
	Artifacts bool   `json:"artifacts"`
	Optional  bool   `json:"optional,omitempty"`
}

// Skipped is a job left out, with the reason.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Notice is a keyword that will not take effect and why.
type Notice struct {
	Keyword string `json:"keyword"`
	Reason  string `json:"reason"`
}
