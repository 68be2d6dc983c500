package expr

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// testVars is the variable set every table case is evaluated against.
var testVars = map[string]string{
	"BRANCH":      "main",
	"SAME":        "main",
	"TAG":         "v1.2.3",
	"SOURCE":      "push",
	"EMPTY":       "",
	"MSG":         "Fix: Bug\nsecond line",
	"SLASHY":      "feature/login",
	"PATTERN":     "/^ma/",
	"PATTERN_I":   "/^MA/i",
	"PLAIN":       "xmainx",
	"BAD_PATTERN": "/a(/",
	"QUOTED":      `say "hi"`,
	"APOS":        "it's",
	"WIN":         `C:\dir`,
	"DOLLAR":      "$HOME",
	"V_2":         "two",
	"1ST":         "first",
	"PAREN":       "a(",
}

func lookupMap(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

type exprCase struct {
	src  string
	want bool
	// errAt is the expected SyntaxError offset; errMsg a substring of its
	// message. errMsg == "" means the expression must parse.
	errAt  int
	errMsg string
}

var exprCases = []exprCase{
	// Equality with strings, both quote styles, either side.
	{src: `$BRANCH == "main"`, want: true},
	{src: `$BRANCH == 'main'`, want: true},
	{src: `"main" == $BRANCH`, want: true},
	{src: `$BRANCH != "main"`, want: false},
	{src: `$BRANCH != "dev"`, want: true},
	{src: `${BRANCH} == "main"`, want: true},
	{src: `$V_2 == "two"`, want: true},
	{src: `$1ST == "first"`, want: true},
	// Variable to variable.
	{src: `$BRANCH == $SAME`, want: true},
	{src: `$BRANCH == $TAG`, want: false},
	{src: `$BRANCH != ${TAG}`, want: true},
	{src: `$UNDEF == $UNDEF2`, want: true},
	{src: `$EMPTY == $UNDEF`, want: false},
	// null, empty and undefined.
	{src: `$UNDEF == null`, want: true},
	{src: `null == $UNDEF`, want: true},
	{src: `$UNDEF != null`, want: false},
	{src: `$EMPTY == null`, want: false},
	{src: `$EMPTY != null`, want: true},
	{src: `$EMPTY == ""`, want: true},
	{src: `$EMPTY == ''`, want: true},
	{src: `$UNDEF == ""`, want: false},
	{src: `$UNDEF != ""`, want: true},
	{src: `null == null`, want: true},
	// Bare operands.
	{src: `$BRANCH`, want: true},
	{src: `${BRANCH}`, want: true},
	{src: `$EMPTY`, want: false},
	{src: `$UNDEF`, want: false},
	{src: `"x"`, want: true},
	{src: `""`, want: false},
	{src: `null`, want: false},
	{src: `/ab/`, want: true},
	// Regex literals and flags.
	{src: `$TAG =~ /^v\d+/`, want: true},
	{src: `$TAG !~ /^v\d+/`, want: false},
	{src: `$BRANCH =~ /^MAIN$/`, want: false},
	{src: `$BRANCH =~ /^MAIN$/i`, want: true},
	{src: `$BRANCH !~ /^MAIN$/i`, want: false},
	{src: `$MSG =~ /^second/`, want: false},
	{src: `$MSG =~ /^second/m`, want: true},
	{src: `$MSG =~ /Bug.second/`, want: false},
	{src: `$MSG =~ /Bug.second/s`, want: true},
	{src: `$MSG =~ /bug.SECOND/si`, want: true},
	{src: `$TAG =~ /^v.+3$/U`, want: true},
	{src: `$BRANCH =~ /ma/ii`, want: true},
	{src: `$SLASHY =~ /^feature\/login$/`, want: true},
	{src: `$DOLLAR =~ /^\$HOME$/`, want: true},
	{src: `$BRANCH =~ /ai/`, want: true},
	{src: `/ab/ == /ab/`, want: true},
	{src: `$BRANCH == /main/`, want: false},
	// Regexes held in variables or strings.
	{src: `$BRANCH =~ $PATTERN`, want: true},
	{src: `$TAG =~ $PATTERN`, want: false},
	{src: `$TAG !~ $PATTERN`, want: true},
	{src: `$BRANCH =~ $PATTERN_I`, want: true},
	{src: `$BRANCH =~ ${PATTERN}`, want: true},
	{src: `$BRANCH =~ "/^ma/"`, want: true},
	// Non-regex right side: GitLab's documented substring fallback.
	{src: `$BRANCH =~ $PLAIN`, want: true},
	{src: `"23" =~ "1234"`, want: true},
	{src: `"23" =~ /1234/`, want: false},
	{src: `$BRANCH =~ $BAD_PATTERN`, want: false},
	{src: `$PAREN =~ $BAD_PATTERN`, want: true},
	// Null on either side of a match.
	{src: `$BRANCH =~ $UNDEF`, want: false},
	{src: `$BRANCH !~ $UNDEF`, want: true},
	{src: `$BRANCH =~ null`, want: false},
	{src: `$UNDEF =~ /main/`, want: false},
	{src: `$UNDEF !~ /main/`, want: true},
	{src: `$UNDEF =~ /^$/`, want: true},
	// Precedence and associativity: && binds tighter than ||.
	{src: `$BRANCH == "x" && $TAG || $SOURCE == "push"`, want: true},
	{src: `$SOURCE == "push" || $BRANCH == "x" && $UNDEF`, want: true},
	{src: `($SOURCE == "push" || $BRANCH == "x") && $UNDEF`, want: false},
	{src: `$UNDEF || $EMPTY || $BRANCH`, want: true},
	{src: `$BRANCH && $TAG && $UNDEF`, want: false},
	{src: `$BRANCH && $TAG && $SOURCE`, want: true},
	{src: `$EMPTY && $BRANCH == "main"`, want: false},
	{src: `$EMPTY || $BRANCH == "main"`, want: true},
	{src: `(($BRANCH))`, want: true},
	{src: `((($UNDEF == null)))`, want: true},
	{src: `$BRANCH == "main" && ($TAG =~ /^x/ || ($SOURCE == "push" && $EMPTY == ""))`, want: true},
	{src: strings.Repeat("(", maxDepth) + "$BRANCH" + strings.Repeat(")", maxDepth), want: true},
	// Whitespace is insignificant.
	{src: "\t$BRANCH==\"main\"\n", want: true},
	{src: `$BRANCH=="main"&&$TAG=~/^v/`, want: true},
	{src: "(\n$UNDEF\r\n||\f$BRANCH\v)", want: true},
	// Escapes inside strings.
	{src: `$QUOTED == "say \"hi\""`, want: true},
	{src: `$QUOTED == 'say "hi"'`, want: true},
	{src: `$APOS == 'it\'s'`, want: true},
	{src: `$APOS == "it's"`, want: true},
	{src: `$WIN == "C:\dir"`, want: true},
	{src: `"a\"b" == 'a"b'`, want: true},

	// Syntax errors with the offset of the offending token.
	{src: ``, errAt: 0, errMsg: "empty expression"},
	{src: `   `, errAt: 3, errMsg: "empty expression"},
	{src: `$BRANCH ==`, errAt: 10, errMsg: "unexpected end of expression"},
	{src: `== "x"`, errAt: 0, errMsg: `unexpected "=="`},
	{src: `$VAR "text"`, errAt: 5, errMsg: `expected && or ||`},
	{src: `"unterminated`, errAt: 0, errMsg: "unterminated string"},
	{src: `$A == 'x`, errAt: 6, errMsg: "unterminated string"},
	{src: `$A == "x\"`, errAt: 6, errMsg: "unterminated string"},
	{src: `$`, errAt: 0, errMsg: "variable name"},
	{src: `$A == $`, errAt: 6, errMsg: "variable name"},
	{src: `$A == $-`, errAt: 6, errMsg: "variable name"},
	{src: `${A`, errAt: 0, errMsg: "missing }"},
	{src: `${A B}`, errAt: 0, errMsg: "missing }"},
	{src: `${}`, errAt: 0, errMsg: "variable name"},
	{src: `($A == "x"`, errAt: 0, errMsg: "unclosed"},
	{src: `(($A) || $B`, errAt: 0, errMsg: "unclosed"},
	{src: `$A == "x")`, errAt: 9, errMsg: "unmatched"},
	{src: `($A $B)`, errAt: 4, errMsg: `unexpected "$B"`},
	{src: `()`, errAt: 1, errMsg: `unexpected ")"`},
	{src: `$A = "x"`, errAt: 3, errMsg: "=="},
	{src: `$A & $B`, errAt: 3, errMsg: "&&"},
	{src: `$A | $B`, errAt: 3, errMsg: "||"},
	{src: `!$A`, errAt: 0, errMsg: `unknown operator "!"`},
	{src: `12345`, errAt: 0, errMsg: `unexpected "12345"`},
	{src: `$A == main`, errAt: 6, errMsg: "must be quoted"},
	{src: `$A == nullx`, errAt: 6, errMsg: `unexpected "nullx"`},
	{src: `$A == "x" &&`, errAt: 12, errMsg: "unexpected end of expression"},
	{src: `$A || || $B`, errAt: 6, errMsg: `unexpected "||"`},
	{src: `$A == $B == $C`, errAt: 9, errMsg: "cannot be chained"},
	{src: `($A) == "x"`, errAt: 5, errMsg: "parenthesized"},
	{src: `$A # comment`, errAt: 3, errMsg: "unexpected character '#'"},
	{src: `$A == «x»`, errAt: 6, errMsg: "unexpected character '«'"},
	{src: `$A =~ /unterminated`, errAt: 6, errMsg: "unterminated regular expression"},
	{src: `$A =~ /ends\/`, errAt: 6, errMsg: "unterminated regular expression"},
	{src: `$A =~ //`, errAt: 6, errMsg: "empty regular expression"},
	{src: `$A =~ /./`, errAt: 6, errMsg: "single-character"},
	{src: `$A =~ /a(/`, errAt: 6, errMsg: "missing closing )"},
	{src: `$A =~ /a**/i`, errAt: 6, errMsg: "invalid regular expression /a**/i"},
	{src: `$A =~ /ab/x`, errAt: 10, errMsg: `unknown regular expression flag 'x'`},
	{src: `$A =~ /ab/im2`, errAt: 12, errMsg: `unknown regular expression flag '2'`},
	{src: strings.Repeat("(", maxDepth+1) + "$A" + strings.Repeat(")", maxDepth+1), errAt: maxDepth, errMsg: "nested deeper"},
}

func TestParseAndEval(t *testing.T) {
	vars := lookupMap(testVars)
	for _, tc := range exprCases {
		t.Run(tc.src, func(t *testing.T) {
			e, err := Parse(tc.src)
			if tc.errMsg != "" {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tc.src, err)
				}
				if se.Offset != tc.errAt || !strings.Contains(se.Msg, tc.errMsg) {
					t.Fatalf("Parse(%q) error = offset %d %q, want offset %d containing %q", tc.src, se.Offset, se.Msg, tc.errAt, tc.errMsg)
				}
				if e != nil {
					t.Fatalf("Parse(%q) returned an expression along with an error", tc.src)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := e.Eval(vars); got != tc.want {
				t.Fatalf("Eval(%q) = %v, want %v", tc.src, got, tc.want)
			}
			if got, _ := e.EvalTrace(vars); got != tc.want {
				t.Fatalf("EvalTrace(%q) = %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse(`$A == "x" &&`)
	if got, want := err.Error(), "column 13: unexpected end of expression, expected a variable, string, null or /regex/"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestVariablesAndString(t *testing.T) {
	src := ` $B == ${A} || ($C =~ $B && "$NOT_A_VAR" == $A) `
	e, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.String(); got != src {
		t.Fatalf("String() = %q, want the source %q", got, src)
	}
	got := e.Variables()
	if want := []string{"A", "B", "C"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Variables() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if e.Variables()[0] != "A" {
		t.Fatal("Variables() exposes internal state")
	}
}

func TestEvalTrace(t *testing.T) {
	vars := lookupMap(map[string]string{
		"CI_COMMIT_BRANCH":   "main",
		"CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_MESSAGE":  strings.Repeat("x", 100),
		"PATTERN":            "release",
	})
	tests := []struct {
		src   string
		want  bool
		trace string
	}{
		{`$CI_COMMIT_BRANCH == "main"`, true, `$CI_COMMIT_BRANCH ("main") == "main"`},
		{`$CI_COMMIT_TAG`, false, `$CI_COMMIT_TAG (undefined)`},
		{`$CI_COMMIT_TAG || $CI_COMMIT_BRANCH =~ /^ma/`, true, `$CI_COMMIT_BRANCH ("main") =~ /^ma/`},
		{`$CI_COMMIT_TAG || ${CI_COMMIT_BRANCH} == "dev"`, false, `$CI_COMMIT_TAG (undefined) || ${CI_COMMIT_BRANCH} ("main") == "dev"`},
		{`$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_TAG != null`, false, `$CI_COMMIT_TAG (undefined) != null`},
		{`($CI_PIPELINE_SOURCE == "push") && $CI_COMMIT_BRANCH`, true, `($CI_PIPELINE_SOURCE ("push") == "push") && $CI_COMMIT_BRANCH ("main")`},
		{`$CI_COMMIT_MESSAGE`, true, `$CI_COMMIT_MESSAGE ("` + strings.Repeat("x", maxTraceValue) + `"...)`},
		{`$CI_COMMIT_BRANCH =~ $PATTERN`, false, `$CI_COMMIT_BRANCH ("main") =~ $PATTERN ("release") (right side is not a /regex/, so compared as substring)`},
	}
	for _, tc := range tests {
		e, err := Parse(tc.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.src, err)
		}
		got, trace := e.EvalTrace(vars)
		if got != tc.want || trace != tc.trace {
			t.Errorf("EvalTrace(%q) = %v, %q; want %v, %q", tc.src, got, trace, tc.want, tc.trace)
		}
	}
}

func TestNilLookupTreatsEverythingUndefined(t *testing.T) {
	e, err := Parse(`$A == null && $B != "x"`)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Eval(nil) {
		t.Fatal("Eval(nil) = false, want true: undefined variables are null")
	}
}

// TestConcurrentEval checks that one parsed rule can serve many pipelines
// at once (run with -race).
func TestConcurrentEval(t *testing.T) {
	e, err := Parse(`$BRANCH =~ $PATTERN && $TAG =~ /^v\d/ || $SOURCE == "push"`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vars := lookupMap(map[string]string{"BRANCH": "main", "PATTERN": "/^ma/", "TAG": fmt.Sprintf("v%d", i)})
			for range 100 {
				results[i] = e.Eval(vars)
			}
		}()
	}
	wg.Wait()
	for i, ok := range results {
		if !ok {
			t.Fatalf("goroutine %d evaluated to false", i)
		}
	}
}
