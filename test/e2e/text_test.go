package e2e

import "strings"

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// hasLinePrefix says whether a line starts with prefix, so a line can be
// matched whatever duration it ends with.
func hasLinePrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// summaryRow returns the fields of job's row in the summary table printed
// after a run (the part of stdout after the JOB STAGE STATUS header).
func summaryRow(stdout, job string) []string {
	_, table, ok := strings.Cut(stdout, "\nJOB ")
	if !ok {
		return nil
	}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == job {
			return f
		}
	}
	return nil
}
