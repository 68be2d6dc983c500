package pgtest_test

import (
	"context"
	"testing"

	"github.com/gantry-ci/gantry/internal/store/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestFreshDatabases: each test gets its own empty database, gone after
// the test.
func TestFreshDatabases(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("a", func(t *testing.T) {
		dsn := pgtest.Start(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE marker (x int)`); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&first); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("b", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, pgtest.Start(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var name string
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_database(),
			(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if name == first || tables != 0 {
			t.Fatalf("second test got database %s with %d tables; first was %s", name, tables, first)
		}
		var left int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, first).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Fatalf("database %s of the finished test still exists", first)
		}
	})
}
