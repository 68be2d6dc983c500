package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/sqlite"
	"github.com/gantry-ci/gantry/internal/store/storetest"
)

// storage is a fresh database file per test.
func storage(tb testing.TB) func() (store.Store, error) {
	path := filepath.Join(tb.TempDir(), "gantry.db")
	return func() (store.Store, error) { return sqlite.Open(context.Background(), path) }
}

func TestStore(t *testing.T) {
	storetest.Run(t, storage)
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "/tmp/x.db?mode=ro"} {
		if db, err := sqlite.Open(context.Background(), p); err == nil {
			_ = db.Close()
			t.Errorf("Open(%q) succeeded; want an error", p)
		}
	}
}

func BenchmarkClaimJob(b *testing.B) { storetest.BenchClaimJob(b, storage) }

func BenchmarkCreatePipeline(b *testing.B) { storetest.BenchCreatePipeline(b, storage) }
