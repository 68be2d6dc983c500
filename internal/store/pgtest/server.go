package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// binaries are the PostgreSQL programs the server needs.
type binaries struct{ initdb, postgres string }

// findBinaries looks for initdb in PATH, then in the newest
// /usr/lib/postgresql/N/bin (Debian keeps them out of PATH). It returns a
// reason to skip when there is none.
func findBinaries() (binaries, string) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				initdb = filepath.Join(d, "initdb")
				break
			}
		}
	}
	if initdb == "" {
		return binaries{}, "pgtest: PostgreSQL's initdb is not in PATH or /usr/lib/postgresql/*/bin; install Debian's postgresql (or set " + EnvDSN + ")"
	}
	resolved, err := filepath.EvalSymlinks(initdb)
	if err != nil {
		resolved = initdb
	}
	pg := filepath.Join(filepath.Dir(resolved), "postgres")
	if _, err := os.Stat(pg); err != nil {
		return binaries{}, fmt.Sprintf("pgtest: no postgres beside %s; install Debian's postgresql", resolved)
	}
	return binaries{initdb: initdb, postgres: pg}, ""
}

// version is the major version in /usr/lib/postgresql/N/bin.
func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// server is a running postmaster and the directory it owns.
type server struct {
	dir  string
	cmd  *exec.Cmd
	dsn  string
	done chan struct{} // closed when the postmaster exits
}

// startServer makes a cluster in a temporary directory and starts it,
// trying another port if the chosen one was taken meanwhile.
func startServer(bins binaries) (*server, error) {
	dir, err := os.MkdirTemp("", "gantry-pg-")
	if err != nil {
		return nil, err
	}
	attr, err := asPostgres(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(bins.initdb, "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
		"--locale=C", "--no-sync")
	initdb.Dir, initdb.SysProcAttr = dir, attr
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		s, err := launch(bins.postgres, dir, attr)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

// asPostgres is how to run PostgreSQL's programs: as the postgres user
// when we are root (initdb refuses root), with dir handed to that user.
func asPostgres(dir string) (*syscall.SysProcAttr, error) {
	// Stop the server when this process dies without calling stop.
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if os.Geteuid() != 0 {
		return attr, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user that Debian's postgresql creates: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return attr, nil
}

// launch starts the postmaster on a free port and waits until it accepts
// connections.
func launch(postgres, dir string, attr *syscall.SysProcAttr) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if attr.Credential != nil {
		_ = logf.Chown(int(attr.Credential.Uid), int(attr.Credential.Gid))
	}
	cmd := exec.Command(postgres, "-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Dir, cmd.SysProcAttr, cmd.Stdout, cmd.Stderr = dir, attr, logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &server{dir: dir, cmd: cmd, done: make(chan struct{}),
		dsn: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.dsn)
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited before accepting connections:\n%s", tail(log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %v\n%s", err, tail(log))
		}
	}
}

// stop shuts the server down at once (the data is thrown away) and
// removes its directory.
func (s *server) stop() {
	s.kill()
	_ = os.RemoveAll(s.dir)
}

func (s *server) kill() {
	// SIGQUIT is an immediate shutdown: the postmaster ends its backends.
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

// tail is the end of a log, enough to show why the server failed.
func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}
