// Package pgtest gives tests a real PostgreSQL: one throwaway server per
// test binary, started on first use from Debian's postgresql package
// (initdb and postgres, found in PATH or /usr/lib/postgresql/*/bin), with
// a fresh database for every test. Set GANTRY_TEST_PG_DSN to a
// superuser's DSN to use an existing server instead.
//
// The server lives in a temporary directory, listens on 127.0.0.1 on a
// free port and keeps its socket in that directory; fsync is off, since
// a crash only loses test data. A test binary stops it by running its
// tests through Main; an interrupt stops it too, and if the binary dies
// anyway the server gets SIGQUIT from the kernel (parent-death signal).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding an existing server's DSN.
const EnvDSN = "GANTRY_TEST_PG_DSN"

// shared is the test binary's one server. Tests of a binary share it, so
// it is package state by necessity.
var shared struct {
	once sync.Once
	mu   sync.Mutex
	srv  *server
	dsn  string // superuser DSN of the maintenance database
	skip string // why there is no server, when PostgreSQL is missing
	err  error
}

// Start returns the DSN of a new, empty database on the test server,
// dropped when the test ends. It skips the test when PostgreSQL is not
// installed.
func Start(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(setup)
	if shared.skip != "" {
		tb.Skip(shared.skip)
	}
	if shared.err != nil {
		tb.Fatalf("pgtest: %v", shared.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "t_" + randomHex()
	if err := adminExec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	dsn, err := withDatabase(shared.dsn, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Main runs a package's tests and stops the server afterwards:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

// Stop stops the server Start started, if any; for a TestMain that has
// its own cleanup to do after m.Run and cannot use Main.
func Stop() { stop() }

// setup finds or starts the server, once per test binary.
func setup() {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		shared.dsn = dsn
		return
	}
	bins, skip := findBinaries()
	if skip != "" {
		shared.skip = skip
		return
	}
	srv, err := startServer(bins)
	if err != nil {
		shared.err = err
		return
	}
	shared.mu.Lock()
	shared.srv, shared.dsn = srv, srv.dsn
	shared.mu.Unlock()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		stop()
		signal.Reset(sig.(syscall.Signal))
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
}

// stop stops the server if this binary started one.
func stop() {
	shared.mu.Lock()
	srv := shared.srv
	shared.srv = nil
	shared.mu.Unlock()
	if srv != nil {
		srv.stop()
	}
}

// adminExec runs one statement on the maintenance database.
func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, shared.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase is dsn (URL or keyword/value form) naming database db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	// In keyword/value form the last setting of a key wins.
	return dsn + " dbname=" + db, nil
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
