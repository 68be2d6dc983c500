package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, link string
	body       string
	typ        byte
}

func tarOf(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o755, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// Artifacts are unpacked inside their directory or refused, whatever the
// uploaded bytes say.
func TestArtifactsStayInside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		single string
		want   map[string]string // path -> content, for accepted artifacts
		err    string
	}{
		{name: "wasm module", data: []byte("\x00asm\x01\x00\x00\x00"), single: "app.wasm", want: map[string]string{"app.wasm": "\x00asm\x01\x00\x00\x00"}},
		{name: "binary for ./bin/server", data: []byte("#!/bin/sh\n"), single: "./bin/server", want: map[string]string{"bin/server": "#!/bin/sh\n"}},
		{name: "tar", data: tarOf(t, false, entry{name: "./server", body: "x", typ: tar.TypeReg}, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/conf", body: "c", typ: tar.TypeReg}),
			want: map[string]string{"server": "x", "etc/conf": "c"}},
		{name: "gzipped tar with a link down", data: tarOf(t, true, entry{name: "v1/app.wasm", body: "m", typ: tar.TypeReg}, entry{name: "app.wasm", link: "v1/app.wasm", typ: tar.TypeSymlink}),
			want: map[string]string{"v1/app.wasm": "m", "app.wasm": "m"}},
		{name: "tar climbing out", data: tarOf(t, false, entry{name: "../evil", body: "x", typ: tar.TypeReg}), err: "leaves the artifact directory"},
		{name: "absolute tar entry", data: tarOf(t, false, entry{name: "/etc/evil", body: "x", typ: tar.TypeReg}), err: "leaves the artifact directory"},
		{name: "link up", data: tarOf(t, false, entry{name: "d/l", link: "..", typ: tar.TypeSymlink}), err: "leaves the artifact directory"},
		{name: "single file with nowhere to go", data: []byte("plain"), single: "", err: "needs a relative place"},
		{name: "single file placed outside", data: []byte("plain"), single: "../x", err: "needs a relative place"},
		{name: "empty", data: nil, single: "a", err: "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			a, err := newArtifacts(filepath.Join(root, "artifacts"))
			if err != nil {
				t.Fatal(err)
			}
			id, err := a.put(bytes.NewReader(tc.data), tc.single)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want an ErrInvalid containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.want {
				got, err := os.ReadFile(filepath.Join(a.path(id), name))
				if err != nil || string(got) != body {
					t.Errorf("%s = %q, %v; want %q", name, got, err, body)
				}
			}
			// The same bytes are stored once.
			again, err := a.put(bytes.NewReader(tc.data), tc.single)
			if err != nil || again != id {
				t.Errorf("storing again gave %q, %v; want %q", again, err, id)
			}
		})
	}
}

// FuzzArtifactPut feeds arbitrary uploads to the unpacker: it must never
// panic nor write outside its directory.
func FuzzArtifactPut(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(tarOf(f, false, entry{name: "a/b", body: "x", typ: tar.TypeReg}))
	f.Add(tarOf(f, true, entry{name: "l", link: "a", typ: tar.TypeSymlink}, entry{name: "l/x", body: "y", typ: tar.TypeReg}))
	f.Add(tarOf(f, false, entry{name: "../x", body: "x", typ: tar.TypeReg}))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		a, err := newArtifacts(filepath.Join(root, "artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		a.maxUnpacked = 1 << 20 // a sparse entry may claim gigabytes of zeros
		id, err := a.put(bytes.NewReader(data), "app.wasm")
		entries, _ := os.ReadDir(root)
		if len(entries) != 1 {
			t.Fatalf("the upload wrote beside the artifact directory: %v", entries)
		}
		if err != nil {
			return
		}
		base, _ := filepath.EvalSymlinks(a.path(id))
		_ = filepath.WalkDir(a.path(id), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			real, err := filepath.EvalSymlinks(p)
			if err == nil && real != base && !strings.HasPrefix(real, base+string(filepath.Separator)) {
				t.Errorf("%s resolves to %s, outside %s", p, real, base)
			}
			return nil
		})
	})
}
