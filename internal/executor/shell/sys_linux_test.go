//go:build linux

package shell

import (
	"fmt"
	"testing"
)

// FuzzProcStat feeds procStat /proc/PID/stat lines whose command name, which
// any process can choose, holds spaces, parentheses and digits; the state
// and process group after it must still come out right, and arbitrary bytes
// must not make it panic.
func FuzzProcStat(f *testing.F) {
	for _, comm := range []string{"sleep", "a b", ") Z 1 99 (", "((", "", "x)"} {
		f.Add(comm, 4242, []byte("1 (x) S 1 2 3"))
	}
	f.Add("", 0, []byte(")"))
	f.Add("", 0, []byte("12 (x) R 1 notanumber"))
	f.Fuzz(func(t *testing.T, comm string, pgrp int, raw []byte) {
		_, _, _ = procStat(raw)
		if pgrp < 0 {
			pgrp = -pgrp
		}
		line := fmt.Sprintf("77 (%s) S 1 %d 5 0 -1 4194304 0", comm, pgrp)
		state, got, ok := procStat([]byte(line))
		if !ok || state != 'S' || got != pgrp {
			t.Fatalf("procStat(%q) = %c, %d, %v; want S, %d, true", line, state, got, ok, pgrp)
		}
	})
}
