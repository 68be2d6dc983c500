package local

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
)

// Wasm binary section ids this file cares about.
const (
	sectionData      = 11
	sectionDataCount = 12
)

// mergeGap is the largest run of zeros mergeDataSegments writes to join
// two segments: copying a few kilobytes of zeros costs less than the
// per-segment work wazero does on every instantiation.
const mergeGap = 4096

var errKeepData = errors.New("data section left as it is")

// mergeDataSegments returns code with its active data segments joined
// into few large ones, or code itself when it cannot be sure the result
// is equivalent. Go's linker writes one segment per symbol, about 100,000
// for an HTTP service, and wazero evaluates and copies each one on every
// instantiation, which dominates the cost of a WAGI request.
//
// Joining is equivalent because memory starts zeroed: bytes between two
// segments that no segment writes are zero either way. Modules with
// passive segments (a data count section), overlapping segments or
// offsets that are not constants are left alone.
func mergeDataSegments(code []byte) []byte {
	out, err := rewriteData(code)
	if err != nil {
		return code
	}
	return out
}

type dataSegment struct {
	offset uint32
	init   []byte
}

func rewriteData(code []byte) ([]byte, error) {
	if len(code) < 8 || !bytes.Equal(code[:4], []byte("\x00asm")) {
		return nil, errKeepData
	}
	var dataStart, dataEnd int
	var data []byte
	for i := 8; i < len(code); {
		id := code[i]
		size, n := binary.Uvarint(code[i+1:])
		if n <= 0 || size > uint64(len(code)) {
			return nil, errKeepData
		}
		body := i + 1 + n
		end := body + int(size)
		if end > len(code) {
			return nil, errKeepData
		}
		switch id {
		case sectionDataCount:
			return nil, errKeepData
		case sectionData:
			if data != nil {
				return nil, errKeepData // two data sections: not a valid module
			}
			dataStart, dataEnd, data = i, end, code[body:end]
		}
		i = end
	}
	if data == nil {
		return nil, errKeepData
	}
	segs, err := parseDataSegments(data)
	if err != nil || len(segs) < 2 {
		return nil, errKeepData
	}
	slices.SortStableFunc(segs, func(a, b dataSegment) int { return cmp.Compare(a.offset, b.offset) })
	// Group segments whose gaps are small, then copy each group once.
	var merged []dataSegment
	for i := 0; i < len(segs); {
		start := segs[i].offset
		end := uint64(start) + uint64(len(segs[i].init))
		j := i + 1
		for ; j < len(segs); j++ {
			off := uint64(segs[j].offset)
			if off < end {
				return nil, errKeepData // overlap: order of application matters
			}
			if off-end > mergeGap {
				break
			}
			end = off + uint64(len(segs[j].init))
		}
		if j == i+1 {
			merged = append(merged, segs[i])
			i = j
			continue
		}
		buf := make([]byte, end-uint64(start))
		for _, s := range segs[i:j] {
			copy(buf[s.offset-start:], s.init)
		}
		merged = append(merged, dataSegment{offset: start, init: buf})
		i = j
	}

	var sec []byte
	sec = binary.AppendUvarint(sec, uint64(len(merged)))
	for _, s := range merged {
		sec = append(sec, 0x00, 0x41) // active in memory 0, i32.const
		sec = appendSLEB32(sec, int32(s.offset))
		sec = append(sec, 0x0b) // end
		sec = binary.AppendUvarint(sec, uint64(len(s.init)))
		sec = append(sec, s.init...)
	}
	out := make([]byte, 0, len(code)-(dataEnd-dataStart)+len(sec)+6)
	out = append(out, code[:dataStart]...)
	out = append(out, sectionData)
	out = binary.AppendUvarint(out, uint64(len(sec)))
	out = append(out, sec...)
	out = append(out, code[dataEnd:]...)
	return out, nil
}

// parseDataSegments reads a data section body whose segments are all
// active in memory 0 at an i32.const offset.
func parseDataSegments(b []byte) ([]dataSegment, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errKeepData
	}
	b = b[n:]
	segs := make([]dataSegment, 0, count)
	for range count {
		if len(b) < 2 || b[0] != 0x00 || b[1] != 0x41 {
			return nil, errKeepData
		}
		off, n := readSLEB32(b[2:])
		if n <= 0 {
			return nil, errKeepData
		}
		b = b[2+n:]
		if len(b) < 1 || b[0] != 0x0b {
			return nil, errKeepData
		}
		size, n := binary.Uvarint(b[1:])
		if n <= 0 || size > uint64(len(b)) {
			return nil, errKeepData
		}
		b = b[1+n:]
		if uint64(len(b)) < size {
			return nil, errKeepData
		}
		segs = append(segs, dataSegment{offset: uint32(off), init: b[:size]})
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, errKeepData
	}
	return segs, nil
}

// readSLEB32 decodes a signed LEB128 i32 as wasm writes it (at most five
// bytes), returning the bytes read or 0 when malformed.
func readSLEB32(b []byte) (int32, int) {
	var v int64
	var shift uint
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift // sign-extend
			}
			if v < -1<<31 || v >= 1<<31 {
				return 0, 0
			}
			return int32(v), i + 1
		}
	}
	return 0, 0
}

// appendSLEB32 encodes v as signed LEB128.
func appendSLEB32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
