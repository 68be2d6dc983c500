package postgres_test

import (
	"context"
	"testing"

	"github.com/gantry-ci/gantry/internal/store"
	"github.com/gantry-ci/gantry/internal/store/pgtest"
	"github.com/gantry-ci/gantry/internal/store/postgres"
	"github.com/gantry-ci/gantry/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// storage is a fresh database per test on the test server.
func storage(tb testing.TB) func() (store.Store, error) {
	dsn := pgtest.Start(tb)
	return func() (store.Store, error) { return postgres.Open(context.Background(), dsn) }
}

func TestStore(t *testing.T) {
	storetest.Run(t, storage)
}

// TestConcurrentOpen: servers starting together on a new database
// migrate it once between them.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Start(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				err = db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
}

func BenchmarkClaimJob(b *testing.B) { storetest.BenchClaimJob(b, storage) }

func BenchmarkCreatePipeline(b *testing.B) { storetest.BenchCreatePipeline(b, storage) }
