package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/engine"
	"github.com/gantry-ci/gantry/internal/pipeline"
	"github.com/gantry-ci/gantry/internal/plan"
	"github.com/gantry-ci/gantry/internal/runnerapi"
)

func TestResultStatus(t *testing.T) {
	live := context.Background()
	canceled := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	timedOut := canceled(engine.ErrJobTimeout)
	byServer := canceled(errCanceledByServer)
	lost := canceled(ErrLeaseLost)
	cases := []struct {
		name          string
		ctx, jobCtx   context.Context
		out           engine.Outcome
		err           error
		status, fail  string
		errorReported bool
	}{
		{"success", live, live, engine.Outcome{}, nil, StatusSuccess, "", false},
		{"script", live, live, engine.Outcome{ExitCode: 2}, nil, StatusFailed, engine.FailureScript, false},
		{"worker's reason", live, live, engine.Outcome{ExitCode: -1, Failure: engine.FailureTimeout}, nil, StatusFailed, engine.FailureTimeout, false},
		{"timeout", timedOut, live, engine.Outcome{ExitCode: -1}, nil, StatusFailed, engine.FailureTimeout, false},
		{"finished before the timeout", timedOut, live, engine.Outcome{}, nil, StatusSuccess, "", false},
		{"canceled", byServer, byServer, engine.Outcome{ExitCode: -1}, nil, StatusCanceled, "", false},
		{"canceled while fetching", byServer, byServer, engine.Outcome{ExitCode: -1}, errors.New("fetch: killed"), StatusCanceled, "", false},
		{"lease lost", lost, lost, engine.Outcome{ExitCode: -1}, nil, StatusCanceled, "", true},
		{"system", live, live, engine.Outcome{ExitCode: -1}, errors.New("no disk"), StatusFailed, engine.FailureRunnerSystem, true},
	}
	for _, c := range cases {
		res := result(c.ctx, c.jobCtx, c.out, c.err)
		if res.Status != c.status || res.Failure != c.fail || (res.Error != "") != c.errorReported {
			t.Errorf("%s: got %+v, want status %s failure %q error reported %v", c.name, res, c.status, c.fail, c.errorReported)
		}
	}
}

func FuzzValidateSpec(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef01234567", "http://h/git/p.git", int64(1))
	f.Add("--upload-pack=touch /tmp/x", "http://h", int64(1))
	f.Add("0123456789ABCDEF0123456789abcdef01234567", "-oProxyCommand=x", int64(-1))
	f.Add(strings.Repeat("a", 64), "/srv/mirror/1.git", int64(0))
	f.Fuzz(func(t *testing.T, sha, repo string, pipelineID int64) {
		spec := &runnerapi.JobSpec{SHA: sha, RepoURL: repo, PipelineID: pipelineID, Job: &plan.Job{Def: &pipeline.Job{}}}
		if validateSpec(spec) != nil {
			return
		}
		// What reaches git's command line can only be a commit name and
		// a repository that is not an option.
		if len(sha) != 40 && len(sha) != 64 || strings.Trim(strings.ToLower(sha), "0123456789abcdef") != "" {
			t.Fatalf("accepted commit %q", sha)
		}
		if repo == "" || repo[0] == '-' || pipelineID < 0 {
			t.Fatalf("accepted repository %q, pipeline %d", repo, pipelineID)
		}
	})
}
