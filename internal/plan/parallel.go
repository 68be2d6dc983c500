package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// maxInstances is GitLab's limit on the jobs one parallel keyword makes.
const maxInstances = 200

// instance is one job the pipeline would create from a job of the file.
type instance struct {
	name, base   string
	index, total int                 // 1-based; 0 when not parallel
	matrix       []pipeline.Variable // matrix values, in the order written
}

// matrixValue returns the instance's value for a matrix variable.
func (in *instance) matrixValue(name string) (string, bool) {
	for _, v := range in.matrix {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

// instances expands parallel: N into "name i/N" and parallel:matrix into
// GitLab's "name: [v1, v2]" names: one entry after the other, each the
// cartesian product of its variables with the first written varying
// slowest.
func instances(j *pipeline.Job) ([]instance, error) {
	par := j.Parallel
	if par == nil || (par.Count <= 0 && len(par.Matrix) == 0) {
		return []instance{{name: j.Name, base: j.Name}}, nil
	}
	if len(par.Matrix) == 0 {
		if par.Count > maxInstances {
			return nil, fmt.Errorf("jobs:%s:parallel: %d instances; GitLab allows at most %d", j.Name, par.Count, maxInstances)
		}
		out := make([]instance, par.Count)
		for i := range out {
			out[i] = instance{
				name:  j.Name + " " + strconv.Itoa(i+1) + "/" + strconv.Itoa(par.Count),
				base:  j.Name,
				index: i + 1,
				total: par.Count,
			}
		}
		return out, nil
	}
	var combos [][]pipeline.Variable
	for e, entry := range par.Matrix {
		keys := matrixKeys(par, e, entry)
		n := 1
		for _, k := range keys {
			n *= max(len(entry[k]), 1)
			if len(combos)+n > maxInstances {
				return nil, fmt.Errorf("jobs:%s:parallel:matrix: more than %d instances; GitLab allows at most %d", j.Name, maxInstances, maxInstances)
			}
		}
		combos = append(combos, product(keys, entry)...)
	}
	out := make([]instance, len(combos))
	for i, c := range combos {
		vals := make([]string, len(c))
		for k, v := range c {
			vals[k] = v.Value
		}
		out[i] = instance{
			name:   matrixName(j.Name, vals),
			base:   j.Name,
			index:  i + 1,
			total:  len(combos),
			matrix: c,
		}
	}
	return out, nil
}

// matrixKeys is an entry's variables in the order written; the front end
// records it, and sorted names stand in if it did not.
func matrixKeys(par *pipeline.Parallel, e int, entry map[string][]string) []string {
	if e < len(par.MatrixKeys) && len(par.MatrixKeys[e]) == len(entry) {
		return par.MatrixKeys[e]
	}
	keys := make([]string, 0, len(entry))
	for k := range entry {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// product lists every combination of the entry's values. A variable with
// no values takes "" so that the combination still exists, as GitLab
// counts it.
func product(keys []string, entry map[string][]string) [][]pipeline.Variable {
	combos := [][]pipeline.Variable{nil}
	for _, k := range keys {
		vals := entry[k]
		if len(vals) == 0 {
			vals = []string{""}
		}
		next := make([][]pipeline.Variable, 0, len(combos)*len(vals))
		for _, c := range combos {
			for _, v := range vals {
				nc := make([]pipeline.Variable, len(c), len(c)+1)
				copy(nc, c)
				next = append(next, append(nc, pipeline.Variable{Name: k, Value: v}))
			}
		}
		combos = next
	}
	return combos
}

func matrixName(base string, vals []string) string {
	return base + ": [" + strings.Join(vals, ", ") + "]"
}
