package expr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// dump renders a tree unambiguously so the fuzzer can compare two parses.
func dump(n node) string {
	switch n := n.(type) {
	case *orNode:
		return "or(" + dumpAll(n.terms) + ")"
	case *andNode:
		return "and(" + dumpAll(n.terms) + ")"
	case *groupNode:
		return "group(" + dump(n.inner) + ")"
	case *cmpNode:
		return fmt.Sprintf("cmp(%s %s %s)", dumpOperand(n.left), opText(n.op), dumpOperand(n.right))
	case *bareNode:
		return "bare(" + dumpOperand(n.operand) + ")"
	}
	return fmt.Sprintf("unknown(%T)", n)
}

func dumpAll(ns []node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = dump(n)
	}
	return strings.Join(parts, ", ")
}

func dumpOperand(o operand) string {
	re := ""
	if o.re != nil {
		re = o.re.String()
	}
	return fmt.Sprintf("%d:%q:%q", o.kind, o.text, re)
}

// fuzzLookup defines variables by a deterministic rule on their names so
// that defined, empty, regex-valued and undefined variables all occur.
func fuzzLookup(name string) (string, bool) {
	switch len(name) % 4 {
	case 0:
		return "", false
	case 1:
		return "", true
	case 2:
		return "/^" + name[:1] + "/i", true
	default:
		return name, true
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range exprCases {
		f.Add(tc.src)
	}
	f.Add(`$A =~ "/(/" || $AB =~ $ABC && "x" !~ $ABCD`)
	f.Add(strings.Repeat("$A && ", 500) + "$B")
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Parse(%q) offset %d outside the source", src, se.Offset)
			}
			return
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q failed: %v", src, err)
		}
		if a, b := dump(e.root), dump(again.root); a != b {
			t.Fatalf("reparse of %q differs:\n%s\n%s", src, a, b)
		}
		if a, b := fmt.Sprint(e.Variables()), fmt.Sprint(again.Variables()); a != b {
			t.Fatalf("reparse of %q changes variables: %s vs %s", src, a, b)
		}
		first := e.Eval(fuzzLookup)
		if e.Eval(fuzzLookup) != first || again.Eval(fuzzLookup) != first {
			t.Fatalf("Eval(%q) is not deterministic", src)
		}
		if traced, _ := e.EvalTrace(fuzzLookup); traced != first {
			t.Fatalf("EvalTrace(%q) = %v disagrees with Eval = %v", src, traced, first)
		}
	})
}
