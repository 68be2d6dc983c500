package local

import (
	"strconv"
	"strings"
)

// cutEnv splits a KEY=VALUE entry.
func cutEnv(kv string) (key, value string, ok bool) {
	return strings.Cut(kv, "=")
}

// mergeEnv returns the entries of the lists in order, a later entry for a
// key replacing an earlier one in place. Programs disagree on which of
// two duplicates wins (Go's os.Getenv takes the first), so the list
// handed to a replica never holds any.
func mergeEnv(lists ...[]string) []string {
	var out []string
	index := map[string]int{}
	for _, list := range lists {
		for _, kv := range list {
			k, _, ok := cutEnv(kv)
			if !ok || k == "" {
				continue
			}
			if i, seen := index[k]; seen {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// gantryEnv is what every replica learns about itself.
func (s ReplicaSpec) gantryEnv() []string {
	return []string{
		"GANTRY_APP=" + s.App,
		"GANTRY_ENV=" + s.Env,
		"GANTRY_REVISION=" + strconv.Itoa(s.Revision),
		"GANTRY_VERSION=" + s.Version,
	}
}
