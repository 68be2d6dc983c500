package spec

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kind is the shape of a YAML value.
type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kSeq
)

// node is a YAML value after anchors, aliases and merge keys are resolved,
// with duplicate keys already reported. Decoding works on nodes rather than
// yaml.Node so that it never has to think about aliases.
type node struct {
	kind  kind
	at    pos
	tag   string // !!str, !!int, !!bool, !!float or !!null for scalars
	value string
	keys  []entry // mappings, in file order
	items []*node // sequences
}

// entry is one key of a mapping.
type entry struct {
	key string
	at  pos
	val *node
}

func (n *node) describe() string {
	switch n.kind {
	case kNull:
		return "null"
	case kMap:
		return "a mapping"
	case kSeq:
		return "a list"
	}
	switch n.tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// get returns the value of key, or nil when absent.
func (n *node) get(key string) *node {
	for _, e := range n.keys {
		if e.key == key {
			return e.val
		}
	}
	return nil
}

// Limits that keep a hostile file cheap to reject: its size, its nesting
// and its size once aliases are expanded (a "billion laughs" file is small
// but expands exponentially).
const (
	maxFileBytes     = 1 << 20
	maxDepth         = 64
	maxExpandedNodes = 100_000
)

// builder turns yaml.v3 nodes into nodes.
type builder struct {
	errs     ErrorList
	file     string
	depth    int
	expanded int
	busy     map[*yaml.Node]bool
}

func (b *builder) errorf(at pos, format string, args ...any) {
	b.errs = append(b.errs, &Error{File: b.file, Line: at.line, Column: at.col, Msg: fmt.Sprintf(format, args...)})
}

func yamlPos(y *yaml.Node) pos { return pos{line: y.Line, col: y.Column} }

var errTooBig = errors.New("too big")

// build converts y; it returns errTooBig once limits are exceeded, after
// which the tree is useless and decoding stops.
func (b *builder) build(y *yaml.Node) (*node, error) {
	b.expanded++
	if b.expanded > maxExpandedNodes {
		b.errorf(yamlPos(y), "the spec is too big: anchors and aliases expand it to more than %d values", maxExpandedNodes)
		return nil, errTooBig
	}
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxDepth {
		b.errorf(yamlPos(y), "values are nested more than %d levels deep", maxDepth)
		return nil, errTooBig
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kNull, at: yamlPos(y)}, nil
		}
		return b.build(y.Content[0])
	case yaml.AliasNode:
		if y.Alias == nil || b.busy[y.Alias] {
			b.errorf(yamlPos(y), "alias %q refers to itself", y.Value)
			return &node{kind: kNull, at: yamlPos(y)}, nil
		}
		b.busy[y.Alias] = true
		defer delete(b.busy, y.Alias)
		n, err := b.build(y.Alias)
		if n != nil {
			// Errors inside the aliased value point at the anchor; the
			// value itself is reported where it is used.
			c := *n
			c.at = yamlPos(y)
			n = &c
		}
		return n, err
	case yaml.ScalarNode:
		tag := y.ShortTag()
		if tag == "!!null" {
			return &node{kind: kNull, at: yamlPos(y), tag: tag}, nil
		}
		return &node{kind: kScalar, at: yamlPos(y), tag: tag, value: y.Value}, nil
	case yaml.SequenceNode:
		n := &node{kind: kSeq, at: yamlPos(y)}
		for _, c := range y.Content {
			item, err := b.build(c)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
		}
		return n, nil
	case yaml.MappingNode:
		return b.buildMap(y)
	}
	return &node{kind: kNull, at: yamlPos(y)}, nil
}

func (b *builder) buildMap(y *yaml.Node) (*node, error) {
	n := &node{kind: kMap, at: yamlPos(y)}
	seen := map[string]pos{}
	var merged []entry
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		val, err := b.build(v)
		if err != nil {
			return nil, err
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			// YAML merge keys (<<: *base): keys written here win over merged
			// ones, and earlier merged mappings win over later ones.
			maps := []*node{val}
			if val.kind == kSeq {
				maps = val.items
			}
			for _, m := range maps {
				if m.kind != kMap {
					b.errorf(m.at, "a merge key (<<) takes a mapping or a list of mappings, not %s", m.describe())
					continue
				}
				merged = append(merged, m.keys...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			b.errorf(yamlPos(k), "a key must be a plain word")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			b.errorf(yamlPos(k), "duplicate key %q (first at line %d)", k.Value, first.line)
			continue
		}
		seen[k.Value] = yamlPos(k)
		n.keys = append(n.keys, entry{key: k.Value, at: yamlPos(k), val: val})
	}
	for _, e := range merged {
		if _, ok := seen[e.key]; !ok {
			seen[e.key] = e.at
			n.keys = append(n.keys, e)
		}
	}
	return n, nil
}

// parseTree reads the one YAML document of a spec.
func parseTree(file string, data []byte) (root *node, errs ErrorList) {
	b := &builder{file: file, busy: map[*yaml.Node]bool{}}
	if len(data) > maxFileBytes {
		b.errorf(pos{1, 1}, "the file is %d bytes; a deploy spec may have at most %d", len(data), maxFileBytes)
		return nil, b.errs
	}
	defer func() {
		// yaml.v3 has panicked on hostile input in the past; a bad file
		// must get an error, never crash the controller.
		if r := recover(); r != nil {
			root, errs = nil, ErrorList{{File: file, Line: 1, Column: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &node{kind: kNull, at: pos{1, 1}}, nil
		}
		b.errs = append(b.errs, syntaxError(file, data, err))
		return nil, b.errs
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		b.errorf(yamlPos(&extra), "a deploy spec is one YAML document; remove the second one")
	case !errors.Is(err, io.EOF):
		b.errs = append(b.errs, syntaxError(file, data, err))
	}
	root, err := b.build(&doc)
	if err != nil {
		return nil, b.errs
	}
	return root, b.errs
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError locates a yaml.v3 syntax error: its message names a line (when
// it does), and the column is where that line's text starts.
func syntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	col := 1
	lines := strings.Split(string(data), "\n")
	if line <= len(lines) {
		text := lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " \t")) + 1
	}
	return &Error{File: file, Line: line, Column: col, Msg: "invalid YAML: " + msg}
}
