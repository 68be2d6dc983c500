package gitlab

import (
	"strings"
)

// GitLab allows !reference tags to nest this deep.
const maxReferenceDepth = 10

// resolveReferences replaces every !reference [.job, key, ...] in the merged
// configuration with the value it points at. It runs after includes are
// merged and before extends, as in GitLab, so a reference sees a job as it is
// written, not as extends completes it.
func (l *loader) resolveReferences(root *node) *node {
	return l.resolveIn(root, root, 0)
}

func (l *loader) resolveIn(root, n *node, depth int) *node {
	switch n.kind {
	case kRef:
		return l.resolveRef(root, n, depth)
	case kSeq:
		var out *node
		for i, item := range n.seq {
			r := l.resolveIn(root, item, depth)
			if r != item && out == nil {
				out = &node{kind: kSeq, pos: n.pos, tag: n.tag, seq: append([]*node(nil), n.seq...)}
			}
			if out != nil {
				out.seq[i] = r
			}
		}
		if out != nil {
			return out
		}
	case kMap:
		var out *node
		for _, k := range n.keys {
			v := n.get(k)
			r := l.resolveIn(root, v, depth)
			if r != v && out == nil {
				out = newMap(n.pos)
				for _, k2 := range n.keys {
					out.set(k2, n.keyPos(k2), n.get(k2))
				}
			}
			if out != nil {
				out.set(k, n.keyPos(k), r)
			}
		}
		if out != nil {
			return out
		}
	}
	return n
}

func (l *loader) resolveRef(root, ref *node, depth int) *node {
	if depth >= maxReferenceDepth {
		l.errorf(ref.pos, "", "!reference nested deeper than %d levels (is it circular?)", maxReferenceDepth)
		return &node{kind: kNull, pos: ref.pos}
	}
	if len(ref.seq) == 0 {
		l.errorf(ref.pos, "", "!reference needs at least a job or template name")
		return &node{kind: kNull, pos: ref.pos}
	}
	var keys []string
	for _, k := range ref.seq {
		if k.kind != kScalar {
			l.errorf(k.pos, "", "!reference takes an array of names, not %s", k.describe())
			return &node{kind: kNull, pos: ref.pos}
		}
		keys = append(keys, k.str)
	}
	cur := root
	for i, k := range keys {
		next := cur.get(k)
		if next == nil && i == 0 {
			l.errorf(ref.pos, "", "!reference [%s] could not be found: no job or template named %q", strings.Join(keys, ", "), k)
			return &node{kind: kNull, pos: ref.pos}
		}
		if next == nil {
			l.errorf(ref.pos, "", "!reference [%s] could not be found: %q has no key %q", strings.Join(keys, ", "), strings.Join(keys[:i], ":"), k)
			return &node{kind: kNull, pos: ref.pos}
		}
		// A step through another reference follows it first.
		if next.kind == kRef {
			next = l.resolveRef(root, next, depth+1)
		}
		cur = next
	}
	return l.resolveIn(root, cur, depth+1)
}
