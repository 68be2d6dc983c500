package server

import (
	"encoding/json"
	"time"

	"github.com/gantry-ci/gantry/internal/store"
)

// The JSON shapes of the API. Times are RFC 3339; absent times are null.

type projectJSON struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Repo          string `json:"repo"`
	DefaultBranch string `json:"default_branch"`
	Public        bool   `json:"public"`
	Poll          string `json:"poll,omitempty"`
	// WebhookSecret and Hooks are shown to users who may change the
	// project.
	WebhookSecret string            `json:"webhook_secret,omitempty"`
	Hooks         map[string]string `json:"webhooks,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
}

type pipelineJSON struct {
	ID         int64           `json:"id"`
	Project    string          `json:"project,omitempty"`
	Ref        string          `json:"ref"`
	Tag        bool            `json:"tag"`
	SHA        string          `json:"sha"`
	BeforeSHA  string          `json:"before_sha,omitempty"`
	Source     string          `json:"source"`
	Status     string          `json:"status"`
	Message    string          `json:"message,omitempty"`
	Author     string          `json:"author,omitempty"`
	Trigger    json.RawMessage `json:"trigger,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Duration   float64         `json:"duration"` // seconds
	WebURL     string          `json:"web_url,omitempty"`
	Jobs       []jobJSON       `json:"jobs,omitempty"`
}

type jobJSON struct {
	ID            int64      `json:"id"`
	PipelineID    int64      `json:"pipeline_id"`
	Name          string     `json:"name"`
	Stage         string     `json:"stage"`
	Attempt       int        `json:"attempt"`
	Status        string     `json:"status"`
	When          string     `json:"when,omitempty"`
	AllowFailure  bool       `json:"allow_failure"`
	Tags          []string   `json:"tags,omitempty"`
	Retried       bool       `json:"retried"`
	Played        bool       `json:"played,omitempty"`
	PlayedBy      string     `json:"played_by,omitempty"`
	RunnerID      int64      `json:"runner_id,omitempty"`
	ExitCode      int        `json:"exit_code"`
	FailureReason string     `json:"failure_reason,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	Coverage      *float64   `json:"coverage,omitempty"`
	LogSize       int64      `json:"log_size"`
	ArtifactsSize int64      `json:"artifacts_size,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	QueuedAt      *time.Time `json:"queued_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	Duration      float64    `json:"duration"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func duration(start, end time.Time) float64 {
	if start.IsZero() {
		return 0
	}
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(start).Seconds()
}

func pipelineView(proj *store.Project, p *store.Pipeline) pipelineJSON {
	v := pipelineJSON{
		ID: p.ID, Ref: p.Ref, Tag: p.Tag, SHA: p.SHA, BeforeSHA: p.BeforeSHA, Source: p.Source,
		Status: p.Status, Message: p.Message, Author: p.Author, Trigger: p.Trigger, Error: p.Error,
		CreatedAt: p.CreatedAt, StartedAt: optTime(p.StartedAt), FinishedAt: optTime(p.FinishedAt),
		Duration: duration(p.StartedAt, p.FinishedAt),
	}
	if proj != nil {
		v.Project = proj.Name
	}
	return v
}

func jobView(j *store.Job) jobJSON {
	return jobJSON{
		ID: j.ID, PipelineID: j.PipelineID, Name: j.Name, Stage: j.Stage, Attempt: j.Attempt,
		Status: j.Status, When: j.When, AllowFailure: j.AllowFailure, Tags: j.Tags, Retried: j.Retried,
		Played: j.Played, PlayedBy: j.PlayedBy, RunnerID: j.RunnerID, ExitCode: j.ExitCode,
		FailureReason: j.FailureReason, Reason: j.Reason, Coverage: j.Coverage, LogSize: j.LogSize,
		ArtifactsSize: j.ArtifactsSize, CreatedAt: j.CreatedAt, QueuedAt: optTime(j.QueuedAt),
		StartedAt: optTime(j.StartedAt), FinishedAt: optTime(j.FinishedAt),
		Duration: duration(j.StartedAt, j.FinishedAt),
	}
}
