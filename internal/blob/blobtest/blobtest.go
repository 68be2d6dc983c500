// Package blobtest checks that a blob.Store keeps the contract the server
// relies on, so the filesystem store and any later S3-compatible store are
// held to the same behaviour by one suite.
package blobtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/blob"
)

// Run exercises a Store through its interface. newStore must return an
// empty store private to the calling test; Run calls it once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGetRoundTrip", testPutGet},
		{"PutReplaces", testPutReplaces},
		{"PutFailureKeepsOld", testPutFailureKeepsOld},
		{"PutCancelled", testPutCancelled},
		{"ReaderSurvivesReplace", testReaderSurvivesReplace},
		{"Missing", testMissing},
		{"PrefixIsNotABlob", testPrefixIsNotABlob},
		{"RangedRead", testRangedRead},
		{"Append", testAppend},
		{"ConcurrentAppendOneKey", testConcurrentAppendOneKey},
		{"ConcurrentAppendManyKeys", testConcurrentAppendManyKeys},
		{"Stat", testStat},
		{"Delete", testDelete},
		{"List", testList},
		{"InvalidKeys", testInvalidKeys},
		{"GC", testGC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func put(t *testing.T, s blob.Store, key, content string) {
	t.Helper()
	n, err := s.Put(t.Context(), key, strings.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(content)) {
		t.Fatalf("Put(%q) size = %d, want %d", key, n, len(content))
	}
}

func read(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	r, size, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Get(%q) reported size %d, read %d bytes", key, size, len(b))
	}
	return string(b)
}

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if r, _, err := s.Get(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Get(%q) error = %v, want ErrNotFound", key, err)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%q) error = %v, want ErrNotFound", key, err)
	}
}

func keys(infos []blob.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Key
	}
	return out
}

func testPutGet(t *testing.T, s blob.Store) {
	big := make([]byte, 1<<20+17)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for key, content := range map[string]string{
		"empty":                      "",
		"logs/1/trace.log":           "hello\nworld\n",
		"artifacts/7/archive.zip":    string(big),
		"cache/p1/node modules ü.tz": "\x00\x01\xff",
	} {
		put(t, s, key, content)
		if got := read(t, s, key); got != content {
			t.Errorf("Get(%q) returned %d bytes differing from the %d put", key, len(got), len(content))
		}
	}
}

func testPutReplaces(t *testing.T, s blob.Store) {
	put(t, s, "a/b", "first version, longer")
	put(t, s, "a/b", "second")
	if got := read(t, s, "a/b"); got != "second" {
		t.Errorf("after replace Get = %q, want %q", got, "second")
	}
}

// failingReader yields some data and then fails, like an upload whose
// client disconnects.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func testPutFailureKeepsOld(t *testing.T, s blob.Store) {
	if _, err := s.Put(t.Context(), "new", &failingReader{n: 100 << 10}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	wantNotFound(t, s, "new")
	put(t, s, "old", "intact")
	if _, err := s.Put(t.Context(), "old", &failingReader{n: 100 << 10}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got := read(t, s, "old"); got != "intact" {
		t.Errorf("failed Put changed the blob to %d bytes", len(got))
	}
}

func testPutCancelled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "k", strings.NewReader("data"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled context: error = %v, want context.Canceled", err)
	}
	wantNotFound(t, s, "k")
}

func testReaderSurvivesReplace(t *testing.T, s blob.Store) {
	put(t, s, "k", "old content")
	r, _, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	put(t, s, "k", "new content")
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "old content" {
		t.Errorf("reader opened before replace read %q, want the old blob whole", b)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	wantNotFound(t, s, "nope")
	wantNotFound(t, s, "no/such/dir/file")
	put(t, s, "file", "x")
	wantNotFound(t, s, "file/child")
}

func testPrefixIsNotABlob(t *testing.T, s blob.Store) {
	put(t, s, "dir/x", "x")
	wantNotFound(t, s, "dir")
	if err := s.Delete(t.Context(), "dir"); err != nil {
		t.Errorf("Delete of a prefix: %v", err)
	}
	if got := read(t, s, "dir/x"); got != "x" {
		t.Errorf("Delete of a prefix touched the blob under it")
	}
}

func testRangedRead(t *testing.T, s blob.Store) {
	content := "0123456789abcdefghij"
	put(t, s, "log", content)
	r, size, err := s.Get(t.Context(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if size != int64(len(content)) {
		t.Fatalf("size = %d", size)
	}
	for _, tc := range []struct {
		offset int64
		whence int
		want   string
	}{
		{7, io.SeekStart, content[7:]},
		{0, io.SeekStart, content},
		{-4, io.SeekEnd, content[16:]},
		{int64(len(content)), io.SeekStart, ""},
		{100, io.SeekStart, ""},
	} {
		pos, err := r.Seek(tc.offset, tc.whence)
		if err != nil {
			t.Fatalf("Seek(%d, %d): %v", tc.offset, tc.whence, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("read from %d (Seek(%d, %d)) = %q, want %q", pos, tc.offset, tc.whence, b, tc.want)
		}
	}
	// A short window, as for an HTTP Range request.
	if _, err := r.Seek(3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "34567" {
		t.Errorf("range 3-7 = %q, %v", buf, err)
	}
}

func testAppend(t *testing.T, s blob.Store) {
	ctx := t.Context()
	var size int64
	for i, chunk := range []string{"line 1\n", "", "line 2\n", "line 3\n"} {
		n, err := s.Append(ctx, "logs/42.log", []byte(chunk))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		size += int64(len(chunk))
		if n != size {
			t.Errorf("Append %d returned size %d, want %d", i, n, size)
		}
	}
	want := "line 1\nline 2\nline 3\n"
	if got := read(t, s, "logs/42.log"); got != want {
		t.Errorf("after appends = %q, want %q", got, want)
	}
	n, err := s.Append(ctx, "logs/42.log", []byte("tail"))
	if err != nil || n != int64(len(want)+4) {
		t.Errorf("Append returned size %d, %v; want %d", n, err, len(want)+4)
	}
	put(t, s, "p", "put-")
	if n, err := s.Append(ctx, "p", []byte("then-append")); err != nil || n != 15 {
		t.Errorf("Append after Put = %d, %v", n, err)
	}
	if got := read(t, s, "p"); got != "put-then-append" {
		t.Errorf("Append after Put = %q", got)
	}
}

// chunk returns a self-describing chunk whose length varies, so a torn or
// interleaved write shows up as a chunk that no longer parses.
func chunk(writer, seq int) string {
	body := strings.Repeat(string(rune('a'+writer%26)), 1+(writer*7+seq*13)%200)
	return fmt.Sprintf("<%d:%d:%s>\n", writer, seq, body)
}

func testConcurrentAppendOneKey(t *testing.T, s blob.Store) {
	const writers, each = 8, 25
	type done struct {
		chunk string
		end   int64
	}
	results := make([][]done, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				c := chunk(w, i)
				end, err := s.Append(t.Context(), "logs/shared.log", []byte(c))
				if err != nil {
					t.Errorf("writer %d Append: %v", w, err)
					return
				}
				results[w] = append(results[w], done{c, end})
			}
		})
	}
	wg.Wait()
	got := read(t, s, "logs/shared.log")
	total := 0
	ends := map[int64]bool{}
	for w, rs := range results {
		if len(rs) != each {
			t.Fatalf("writer %d finished %d appends, want %d", w, len(rs), each)
		}
		var prev int64
		for _, r := range rs {
			total += len(r.chunk)
			// The returned size says where this chunk ends: the bytes just
			// before it must be the chunk itself, whole.
			start := r.end - int64(len(r.chunk))
			if start < 0 || r.end > int64(len(got)) || got[start:r.end] != r.chunk {
				t.Fatalf("chunk %q not found whole at [%d,%d)", r.chunk, start, r.end)
			}
			if r.end <= prev {
				t.Errorf("writer %d: append ended at %d after an earlier one ended at %d", w, r.end, prev)
			}
			prev = r.end
			if ends[r.end] {
				t.Errorf("two appends report the same end %d", r.end)
			}
			ends[r.end] = true
		}
	}
	if len(got) != total {
		t.Errorf("log is %d bytes, appended %d", len(got), total)
	}
}

func testConcurrentAppendManyKeys(t *testing.T, s blob.Store) {
	const jobs, each = 6, 15
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Append(t.Context(), fmt.Sprintf("logs/%d.log", j), []byte(chunk(j, i))); err != nil {
					t.Errorf("job %d Append: %v", j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for j := range jobs {
		var want strings.Builder
		for i := range each {
			want.WriteString(chunk(j, i))
		}
		if got := read(t, s, fmt.Sprintf("logs/%d.log", j)); got != want.String() {
			t.Errorf("logs/%d.log holds wrong content (%d bytes, want %d)", j, len(got), want.Len())
		}
	}
}

func testStat(t *testing.T, s blob.Store) {
	before := time.Now()
	put(t, s, "dir/file.bin", "12345")
	info, err := s.Stat(t.Context(), "dir/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "dir/file.bin" || info.Size != 5 {
		t.Errorf("Stat = %+v, want key dir/file.bin size 5", info)
	}
	// Generous bounds: backends round timestamps and clocks drift, but a
	// modification time far off would break expiry.
	if info.ModTime.Before(before.Add(-time.Hour)) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Errorf("ModTime = %v, want about %v", info.ModTime, before)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	put(t, s, "a/b/c", "x")
	put(t, s, "a/b/d", "y")
	if err := s.Delete(t.Context(), "a/b/c"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, "a/b/c")
	if got := read(t, s, "a/b/d"); got != "y" {
		t.Errorf("sibling changed to %q", got)
	}
	if err := s.Delete(t.Context(), "a/b/c"); err != nil {
		t.Errorf("second Delete: %v, want success", err)
	}
	if err := s.Delete(t.Context(), "a/b/d"); err != nil {
		t.Fatal(err)
	}
	if infos, err := s.List(t.Context(), ""); err != nil || len(infos) != 0 {
		t.Errorf("after deleting everything List = %v, %v", keys(infos), err)
	}
	put(t, s, "a/b/c", "again")
	if got := read(t, s, "a/b/c"); got != "again" {
		t.Errorf("Put after Delete = %q", got)
	}
}

func testList(t *testing.T, s blob.Store) {
	all := []string{"artifacts/1.zip", "logs/1.log", "logs/12.log", "logs/2/a", "logs.txt", "logsx", "logs/1/x"}
	for i, k := range all {
		put(t, s, k, strings.Repeat("z", i))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"artifacts/1.zip", "logs.txt", "logs/1.log", "logs/1/x", "logs/12.log", "logs/2/a", "logsx"}},
		{"logs/", []string{"logs/1.log", "logs/1/x", "logs/12.log", "logs/2/a"}},
		{"logs/1", []string{"logs/1.log", "logs/1/x", "logs/12.log"}},
		{"logs/1/", []string{"logs/1/x"}},
		{"logs", []string{"logs.txt", "logs/1.log", "logs/1/x", "logs/12.log", "logs/2/a", "logsx"}},
		{"logs/2/a", []string{"logs/2/a"}},
		{"nothing/", nil},
		{"logs/3", nil},
		{"logs.txt/", nil},
	} {
		infos, err := s.List(t.Context(), tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if got := keys(infos); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
		for _, in := range infos {
			if want := int64(slices.Index(all, in.Key)); in.Size != want {
				t.Errorf("List(%q): %s size %d, want %d", tc.prefix, in.Key, in.Size, want)
			}
		}
	}
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range []string{"", "/etc/passwd", "../x", "a/../../etc", "a//b", "a/", "a\\b", "a\x00b", "./a"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Append(ctx, key, []byte("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Append(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a/../", "a//", "a\\"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func testGC(t *testing.T, s blob.Store) {
	for _, k := range []string{"artifacts/1/old", "artifacts/1/keep", "artifacts/2/old", "logs/old"} {
		put(t, s, k, "x")
	}
	var seen []string
	removed, err := blob.GC(t.Context(), s, "artifacts/", func(in blob.Info) bool {
		seen = append(seen, in.Key)
		return strings.HasSuffix(in.Key, "/old")
	})
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("GC removed %d, want 2", removed)
	}
	if slices.Contains(seen, "logs/old") {
		t.Error("GC looked outside its prefix")
	}
	infos, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(infos), []string{"artifacts/1/keep", "logs/old"}; !slices.Equal(got, want) {
		t.Errorf("after GC = %q, want %q", got, want)
	}
	if removed, err := blob.GC(t.Context(), s, "", func(blob.Info) bool { return false }); removed != 0 || err != nil {
		t.Errorf("GC with nothing expired = %d, %v", removed, err)
	}
}
