// Package migration reads a store's schema steps — files named
// NNNN_name.sql, applied in version order; a released file is never
// edited, a change is a new file. Each store applies them its own way.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Step is one schema change.
type Step struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// Load reads dir/*.sql from fsys in version order, refusing a name that
// is not NNNN_name.sql and two files of one version.
func Load(fsys fs.FS, dir string) ([]Step, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var steps []Step
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Version < steps[j].Version })
	for i := 1; i < len(steps); i++ {
		if steps[i].Version == steps[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", steps[i-1].Name, steps[i].Name)
		}
	}
	return steps, nil
}
