package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/tetratelabs/wazero"
)

// seg is a data segment for the test modules: active at an i32.const
// offset unless raw is set.
type seg struct {
	offset int32
	data   string
	raw    []byte // a segment encoded by hand (passive, global offset...)
}

func dataSection(segs ...seg) []byte {
	body := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		if s.raw != nil {
			body = append(body, s.raw...)
			continue
		}
		body = append(body, 0x00, 0x41)
		body = appendSLEB32(body, s.offset)
		body = append(body, 0x0b)
		body = binary.AppendUvarint(body, uint64(len(s.data)))
		body = append(body, s.data...)
	}
	return section(sectionData, body)
}

func section(id byte, body []byte) []byte {
	return append(binary.AppendUvarint([]byte{id}, uint64(len(body))), body...)
}

// memModule is a module with one exported page of memory ("mem") plus
// the given sections.
func memModule(sections ...[]byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(5, []byte{0x01, 0x00, 0x01})...)                      // memory: min 1 page
	m = append(m, section(7, []byte{0x01, 0x03, 'm', 'e', 'm', 0x02, 0x00})...) // export "mem"
	for _, s := range sections {
		m = append(m, s...)
	}
	return m
}

func countSegments(t *testing.T, code []byte) int {
	t.Helper()
	for i := 8; i < len(code); {
		size, n := binary.Uvarint(code[i+1:])
		if code[i] == sectionData {
			c, _ := binary.Uvarint(code[i+1+n:])
			return int(c)
		}
		i += 1 + n + int(size)
	}
	return 0
}

// memoryOf instantiates code in wazero and returns its first page.
func memoryOf(t *testing.T, code []byte) []byte {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	m, err := rt.Instantiate(ctx, code)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	b, ok := m.Memory().Read(0, 65536)
	if !ok {
		t.Fatal("read memory")
	}
	return bytes.Clone(b)
}

func TestMergeDataSegments(t *testing.T) {
	tests := []struct {
		name         string
		code         []byte
		wantSegments int // 0: left unchanged
	}{
		{"adjacent", memModule(dataSection(seg{offset: 0, data: "ab"}, seg{offset: 2, data: "cd"}, seg{offset: 4, data: "e"})), 1},
		{"small gaps and unsorted", memModule(dataSection(seg{offset: 900, data: "z"}, seg{offset: 16, data: "hello"}, seg{offset: 64, data: "world"})), 1},
		{"large gap splits", memModule(dataSection(seg{offset: 8, data: "x"}, seg{offset: 9, data: "y"}, seg{offset: 8 + mergeGap + 100, data: "far"})), 2},
		{"overlap", memModule(dataSection(seg{offset: 0, data: "abcd"}, seg{offset: 2, data: "XY"})), 0},
		{"passive segment", memModule(dataSection(seg{offset: 0, data: "a"}, seg{raw: []byte{0x01, 0x01, 'p'}})), 0},
		{"global offset", memModule(dataSection(seg{offset: 0, data: "a"}, seg{raw: []byte{0x00, 0x23, 0x00, 0x0b, 0x01, 'g'}})), 0},
		{"data count section", memModule(section(sectionDataCount, []byte{0x02}), dataSection(seg{offset: 0, data: "a"}, seg{offset: 1, data: "b"})), 0},
		{"one segment", memModule(dataSection(seg{offset: 3, data: "only"})), 0},
		{"no data", memModule(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeDataSegments(tt.code)
			if tt.wantSegments == 0 {
				if !bytes.Equal(got, tt.code) {
					t.Fatalf("module rewritten, want it left alone")
				}
				return
			}
			if n := countSegments(t, got); n != tt.wantSegments {
				t.Errorf("%d segments after merging, want %d", n, tt.wantSegments)
			}
			if !bytes.Equal(memoryOf(t, got), memoryOf(t, tt.code)) {
				t.Error("merged module starts with different memory")
			}
		})
	}
}

func TestMergeDataSegmentsLeavesBrokenInputAlone(t *testing.T) {
	good := memModule(dataSection(seg{offset: 0, data: "ab"}, seg{offset: 2, data: "cd"}))
	for _, code := range [][]byte{nil, []byte("\x00asm"), []byte("not wasm at all"), good[:len(good)-1], append(bytes.Clone(good), 0x0b)} {
		if got := mergeDataSegments(code); !bytes.Equal(got, code) {
			t.Errorf("mergeDataSegments(%q) rewrote malformed input", code)
		}
	}
}

func TestSLEB32RoundTrip(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 63, 64, -64, -65, 1 << 20, -1 << 31, 1<<31 - 1} {
		b := appendSLEB32(nil, v)
		got, n := readSLEB32(b)
		if got != v || n != len(b) {
			t.Errorf("%d: encoded %x, decoded %d (%d bytes)", v, b, got, n)
		}
	}
	if _, n := readSLEB32([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}); n != 0 {
		t.Error("accepted a 6-byte i32")
	}
}

// image is the memory a module's data section writes: offset -> byte.
func image(t *testing.T, code []byte) (map[uint64]byte, bool) {
	for i := 8; i < len(code); {
		size, n := binary.Uvarint(code[i+1:])
		if n <= 0 {
			return nil, false
		}
		if code[i] == sectionData {
			segs, err := parseDataSegments(code[i+1+n : i+1+n+int(size)])
			if err != nil {
				return nil, false
			}
			img := map[uint64]byte{}
			for _, s := range segs {
				for j, c := range s.init {
					img[uint64(s.offset)+uint64(j)] = c
				}
			}
			return img, true
		}
		i += 1 + n + int(size)
	}
	return nil, false
}

func FuzzMergeDataSegments(f *testing.F) {
	f.Add(memModule(dataSection(seg{offset: 0, data: "ab"}, seg{offset: 2, data: "cd"})))
	f.Add(memModule(dataSection(seg{offset: 100, data: "x"}, seg{offset: 4, data: "yz"}, seg{offset: -8, data: "hi"})))
	f.Add(memModule(dataSection(seg{offset: 0, data: "abcd"}, seg{offset: 2, data: "XY"})))
	f.Add(memModule(dataSection(seg{offset: 0, data: "a"}, seg{raw: []byte{0x01, 0x01, 'p'}})))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x0b\x80\x80\x80\x80\x00"))
	f.Fuzz(func(t *testing.T, code []byte) {
		got := mergeDataSegments(code)
		if bytes.Equal(got, code) {
			return
		}
		// A rewrite must write the same bytes, plus only zeros.
		before, ok := image(t, code)
		if !ok {
			t.Fatal("rewrote a module whose data section does not parse")
		}
		after, ok := image(t, got)
		if !ok {
			t.Fatal("rewritten data section does not parse")
		}
		for off, c := range before {
			if after[off] != c {
				t.Fatalf("byte at %d is %d after merging, was %d", off, after[off], c)
			}
		}
		for off, c := range after {
			if _, set := before[off]; !set && c != 0 {
				t.Fatalf("merging wrote %d at %d, which no segment set", c, off)
			}
		}
	})
}
