package artifact

import (
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// Never is what ParseDuration returns for "never": the artifacts are kept
// until removed by hand.
const Never time.Duration = -1

// ParseDuration parses an `artifacts:expire_in` value: "never", or any
// GitLab duration (see pipeline.ParseDuration).
func ParseDuration(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "never") {
		return Never, nil
	}
	return pipeline.ParseDuration(s)
}
