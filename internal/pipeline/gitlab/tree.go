package gitlab

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

// kind is the shape of a YAML value.
type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
	kRef // a !reference [...] tag, resolved after includes are merged
)

// node is a YAML value with its position, after anchors, aliases and merge
// keys are resolved. Nodes are never changed once built: merging makes new
// nodes, so one aliased node may safely appear in many places.
type node struct {
	kind  kind
	pos   pipeline.Pos
	tag   string // resolved YAML tag of a scalar: !!str, !!int, !!bool, !!float, !!null
	str   string
	keys  []string // map keys in order
	vals  []*node  // values, parallel to keys
	kpos  []pipeline.Pos
	index map[string]int // key -> position, for maps of indexFrom keys or more
	seq   []*node
}

// Maps this large get an index; smaller ones (most of them) are searched in
// order, which costs less than building a Go map for each.
const indexFrom = 12

func (n *node) find(key string) int {
	if n == nil || n.kind != kMap {
		return -1
	}
	if n.index != nil {
		if i, ok := n.index[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range n.keys {
		if k == key {
			return i
		}
	}
	return -1
}

func (n *node) get(key string) *node {
	if i := n.find(key); i >= 0 {
		return n.vals[i]
	}
	return nil
}

func (n *node) has(key string) bool { return n.find(key) >= 0 }

func (n *node) hasKey(key string) bool { return n.find(key) >= 0 }

func (n *node) keyPos(key string) pipeline.Pos {
	if i := n.find(key); i >= 0 {
		return n.kpos[i]
	}
	return n.pos
}

func (n *node) describe() string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kNull:
		return "null"
	case kMap:
		return "a hash"
	case kSeq:
		return "an array"
	case kRef:
		return "a !reference"
	}
	switch n.tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

func newMap(pos pipeline.Pos) *node {
	return &node{kind: kMap, pos: pos}
}

// set adds or replaces a key; a replaced key keeps its place in the order.
func (n *node) set(key string, kp pipeline.Pos, v *node) {
	if i := n.find(key); i >= 0 {
		n.vals[i], n.kpos[i] = v, kp
		return
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
	n.kpos = append(n.kpos, kp)
	switch {
	case n.index != nil:
		n.index[key] = len(n.keys) - 1
	case len(n.keys) >= indexFrom:
		n.index = make(map[string]int, len(n.keys)*2)
		for i, k := range n.keys {
			n.index[k] = i
		}
	}
}

// converter turns yaml.v3 nodes into nodes, resolving aliases and merge keys.
type converter struct {
	file  string
	errs  *pipeline.Errors
	depth int
	// done caches converted anchors so that an alias used many times (the
	// "billion laughs" shape) costs one conversion, not an exponential one.
	done map[*yaml.Node]*node
	busy map[*yaml.Node]bool
}

func (c *converter) pos(y *yaml.Node) pipeline.Pos {
	return pipeline.Pos{File: c.file, Line: y.Line, Col: y.Column}
}

func (c *converter) errorf(p pipeline.Pos, path, format string, args ...any) {
	*c.errs = append(*c.errs, &pipeline.Error{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

const maxDepth = 200

func (c *converter) convert(y *yaml.Node) *node {
	if y == nil {
		return &node{kind: kNull}
	}
	if n, ok := c.done[y]; ok {
		return n
	}
	if c.busy[y] {
		c.errorf(c.pos(y), "", "recursive alias")
		return &node{kind: kNull, pos: c.pos(y)}
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxDepth {
		c.errorf(c.pos(y), "", "nesting deeper than %d levels", maxDepth)
		return &node{kind: kNull, pos: c.pos(y)}
	}
	c.busy[y] = true
	n := c.convertUncached(y)
	delete(c.busy, y)
	if y.Anchor != "" || y.Kind == yaml.AliasNode {
		c.done[y] = n
	}
	return n
}

func (c *converter) convertUncached(y *yaml.Node) *node {
	p := c.pos(y)
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kNull, pos: p}
		}
		return c.convert(y.Content[0])
	case yaml.AliasNode:
		n := c.convert(y.Alias)
		return n
	case yaml.ScalarNode:
		tag := y.ShortTag()
		if tag == "!!null" {
			return &node{kind: kNull, pos: p, tag: tag}
		}
		if tag == "!reference" {
			c.errorf(p, "", "!reference must be an array like !reference [.job, script]")
			return &node{kind: kNull, pos: p}
		}
		return &node{kind: kScalar, pos: p, tag: tag, str: y.Value}
	case yaml.SequenceNode:
		n := &node{kind: kSeq, pos: p}
		if y.Tag == "!reference" {
			n.kind = kRef
		}
		for _, item := range y.Content {
			n.seq = append(n.seq, c.convert(item))
		}
		return n
	case yaml.MappingNode:
		return c.convertMap(y)
	}
	return &node{kind: kNull, pos: p}
}

func (c *converter) convertMap(y *yaml.Node) *node {
	n := newMap(c.pos(y))
	var merges []*node
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			mv := c.convert(v)
			switch mv.kind {
			case kMap:
				merges = append(merges, mv)
			case kSeq:
				for _, m := range mv.seq {
					if m.kind == kMap {
						merges = append(merges, m)
					} else {
						c.errorf(m.pos, "", "a merge key (<<) takes a hash or a list of hashes, not %s", m.describe())
					}
				}
			default:
				c.errorf(mv.pos, "", "a merge key (<<) takes a hash or a list of hashes, not %s", mv.describe())
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.errorf(c.pos(k), "", "a hash key must be a plain value")
			continue
		}
		if n.hasKey(k.Value) {
			// yaml.v3 already refuses duplicate keys; kept as a guard.
			c.errorf(c.pos(k), "", "duplicate key %q", k.Value)
		}
		n.set(k.Value, c.pos(k), c.convert(v))
	}
	// YAML merge keys: explicit keys win; among merged hashes the first wins.
	for _, m := range merges {
		for _, key := range m.keys {
			if !n.hasKey(key) {
				n.set(key, m.keyPos(key), m.get(key))
			}
		}
	}
	return n
}

// Limits that keep hostile files cheap: the raw size (GitLab's default is
// 2 MB) and the size once aliases are expanded, which every later step walks
// (the "billion laughs" file is small but expands exponentially).
const (
	maxFileBytes     = 4 << 20
	maxExpandedNodes = 1_000_000
)

// expandedSize counts the values of a tree as later steps see it, with
// aliases expanded; shared nodes are counted once per use but computed once.
func expandedSize(n *node, memo map[*node]int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	size := 1
	for _, item := range n.seq {
		size += expandedSize(item, memo)
		if size > maxExpandedNodes {
			break
		}
	}
	for _, k := range n.keys {
		size += expandedSize(n.get(k), memo)
		if size > maxExpandedNodes {
			break
		}
	}
	memo[n] = size
	return size
}

// parseDocuments parses a file's YAML documents into nodes.
func parseDocuments(file string, data []byte, errs *pipeline.Errors) (docs []*node) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	c := &converter{file: file, errs: errs, done: map[*yaml.Node]*node{}, busy: map[*yaml.Node]bool{}}
	if len(data) > maxFileBytes {
		*errs = append(*errs, &pipeline.Error{Pos: pipeline.Pos{File: file, Line: 1, Col: 1},
			Msg: fmt.Sprintf("the file is %d bytes; at most %d are accepted", len(data), maxFileBytes)})
		return nil
	}
	defer func() {
		// yaml.v3 has panicked on hostile input before; a pipeline file must
		// get an error, never crash the server.
		if r := recover(); r != nil {
			*errs = append(*errs, &pipeline.Error{Pos: pipeline.Pos{File: file, Line: 1, Col: 1}, Msg: fmt.Sprintf("invalid YAML: %v", r)})
			docs = nil
		}
	}()
	for {
		var y yaml.Node
		err := dec.Decode(&y)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			line, col, msg := yamlErrorPos(data, err)
			*errs = append(*errs, &pipeline.Error{Pos: pipeline.Pos{File: file, Line: line, Col: col}, Msg: "invalid YAML: " + msg})
			return nil
		}
		doc := c.convert(&y)
		if size := expandedSize(doc, map[*node]int{}); size > maxExpandedNodes {
			*errs = append(*errs, &pipeline.Error{Pos: pipeline.Pos{File: file, Line: 1, Col: 1},
				Msg: fmt.Sprintf("the configuration is too big: anchors and aliases expand it to more than %d values", maxExpandedNodes)})
			return nil
		}
		docs = append(docs, doc)
		if len(docs) > 2 {
			break
		}
	}
	return docs
}

// yamlErrorPos finds where a YAML syntax error is. yaml.v3's messages carry
// a line only sometimes, and not always the right one, so the position is the
// first line at which a prefix of the file stops parsing (found by binary
// search), pointing at that line's first character.
func yamlErrorPos(data []byte, err error) (int, int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
	}
	lines := strings.SplitAfter(string(data), "\n")
	parses := func(n int) bool {
		dec := yaml.NewDecoder(strings.NewReader(strings.Join(lines[:n], "")))
		for {
			var y yaml.Node
			if err := dec.Decode(&y); err != nil {
				return errors.Is(err, io.EOF)
			}
		}
	}
	lo, hi := 0, len(lines) // parses(lo) holds, parses(hi) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	line := hi
	col := 1
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return line, col, msg
}
