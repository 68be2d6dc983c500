package workspace

import (
	"io/fs"
	"syscall"
)

func deviceOf(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev) // Dev is narrower than uint64 on some systems.
	}
	return 0
}
