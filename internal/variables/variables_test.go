package variables

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/pipeline"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "alpha", "B_2": "beta", "_U": "under", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$A", "alpha"},
		{"${A}", "alpha"},
		{"x$A-y", "xalpha-y"},
		{"$Ax", ""}, // the name is Ax, which is undefined
		{"${A}x", "alphax"},
		{"$B_2/$_U", "beta/under"},
		{"$$A", "$A"},
		{"$$$A", "$alpha"},
		{"$$$$", "$$"},
		{"cost: 5$", "cost: 5$"},
		{"$ A", "$ A"},
		{"${A", "${A"},
		{"${1}", "${1}"},
		{"$1", "$1"},
		{"${}", "${}"},
		{"${A:-default}", "${A:-default}"},
		{"$UNDEFINED/x", "/x"},
		{"[$EMPTY]", "[]"},
		{"%A%", "%A%"},
		{"héllo $A ünïcode", "héllo alpha ünïcode"},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, lookup); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReferences(t *testing.T) {
	got := References("$A ${B} $$C $A ${1} $D_x")
	if want := []string{"A", "B", "D_x"}; !slices.Equal(got, want) {
		t.Errorf("References = %q, want %q", got, want)
	}
}

func v(name, value string) pipeline.Variable { return pipeline.Variable{Name: name, Value: value} }

func raw(name, value string) pipeline.Variable {
	return pipeline.Variable{Name: name, Value: value, Raw: true}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		in   []pipeline.Variable
		want map[string]string
	}{
		{
			name: "later definition wins",
			in:   []pipeline.Variable{v("A", "global"), v("A", "job"), v("A", "rules")},
			want: map[string]string{"A": "rules"},
		},
		{
			name: "nested references any depth",
			in:   []pipeline.Variable{v("A", "a"), v("B", "b_$A"), v("C", "c_$B"), v("D", "d_${C}")},
			want: map[string]string{"A": "a", "B": "b_a", "C": "c_b_a", "D": "d_c_b_a"},
		},
		{
			name: "reference defined later in the list",
			in:   []pipeline.Variable{v("URL", "https://$HOST/app"), v("HOST", "example.com")},
			want: map[string]string{"URL": "https://example.com/app", "HOST": "example.com"},
		},
		{
			name: "override changes what others see",
			in:   []pipeline.Variable{v("ENV", "dev"), v("NAME", "app-$ENV"), v("ENV", "prod")},
			want: map[string]string{"ENV": "prod", "NAME": "app-prod"},
		},
		{
			name: "raw value kept and passed on verbatim",
			in:   []pipeline.Variable{raw("R", "$HOME and $$"), v("X", "[$R]")},
			want: map[string]string{"R": "$HOME and $$", "X": "[$HOME and $$]"},
		},
		{
			name: "escape is not rescanned",
			in:   []pipeline.Variable{v("A", "secret"), v("B", "$$A"), v("C", "$B")},
			want: map[string]string{"A": "secret", "B": "$A", "C": "$A"},
		},
		{
			name: "self reference kept",
			in:   []pipeline.Variable{v("PATH", "/usr/bin"), v("PATH", "$PATH:/opt/bin")},
			want: map[string]string{"PATH": "$PATH:/opt/bin"},
		},
		{
			name: "cycle terminates",
			in:   []pipeline.Variable{v("A", "a$B"), v("B", "b$A"), v("C", "<$A>")},
			want: map[string]string{"A": "ab$A", "B": "b$A", "C": "<ab$A>"},
		},
		{
			name: "undefined is empty",
			in:   []pipeline.Variable{v("A", "x${NOPE}y")},
			want: map[string]string{"A": "xy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d variables %v, want %d", len(got), got, len(tt.want))
			}
			for _, g := range got {
				if w, ok := tt.want[g.Name]; !ok || g.Value != w {
					t.Errorf("%s = %q, want %q", g.Name, g.Value, w)
				}
			}
		})
	}
}

func TestResolveKeepsFlagsAndOrder(t *testing.T) {
	in := []pipeline.Variable{
		v("FIRST", "1"),
		{Name: "KEY", Value: "old"},
		v("LAST", "3"),
		{Name: "KEY", Value: "$FIRST", File: true, Secret: true},
	}
	got := Resolve(in)
	names := []string{}
	for _, g := range got {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"FIRST", "KEY", "LAST"}) {
		t.Errorf("order %v", names)
	}
	if k := got[1]; k.Value != "1" || !k.File || !k.Secret {
		t.Errorf("KEY = %+v, want value 1 with File and Secret", k)
	}
	if in[3].Value != "$FIRST" {
		t.Errorf("input modified: %+v", in[3])
	}
}

func TestEnviron(t *testing.T) {
	got := Environ([]pipeline.Variable{v("A", "1"), v("B", "x=y"), v("A", "2"), v("", "bad"), v("C=D", "bad"), v("N", "a\x00b")})
	want := []string{"A=2", "B=x=y", "N=ab"}
	if !slices.Equal(got, want) {
		t.Errorf("Environ = %q, want %q", got, want)
	}
}

// A long chain must resolve without deep re-expansion blowing up.
func TestResolveLongChain(t *testing.T) {
	var vars []pipeline.Variable
	vars = append(vars, v("V0", "x"))
	for i := 1; i <= 5000; i++ {
		vars = append(vars, v("V"+strconv.Itoa(i), "$V"+strconv.Itoa(i-1)))
	}
	got := Resolve(vars)
	if last := got[len(got)-1]; last.Value != "x" {
		t.Fatalf("V5000 = %q", last.Value)
	}
}

// FuzzResolve checks, for arbitrary definitions, that resolving ends, gives
// one entry per name, keeps raw values, and that a value without any $ is
// unchanged.
func FuzzResolve(f *testing.F) {
	f.Add("A", "$B", "B", "${A}x", "C", "$$C", false)
	f.Add("PATH", "$PATH:/bin", "PATH", "${PATH}", "X", "$", true)
	f.Add("A", "${", "B", "$A$A$A", "A", "$B", false)
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string, raw3 bool) {
		in := []pipeline.Variable{v(n1, v1), v(n2, v2), {Name: n3, Value: v3, Raw: raw3}}
		got := Resolve(in)
		seen := map[string]bool{}
		for _, g := range got {
			if seen[g.Name] {
				t.Fatalf("%q twice in %v", g.Name, got)
			}
			seen[g.Name] = true
		}
		for _, g := range got {
			if g.Name == n3 {
				if raw3 && g.Value != v3 {
					t.Fatalf("raw value changed: %q -> %q", v3, g.Value)
				}
				if !strings.Contains(v3, "$") && g.Value != v3 {
					t.Fatalf("value without $ changed: %q -> %q", v3, g.Value)
				}
			}
		}
		// Expanding a string with no references in it is the identity.
		if !strings.Contains(v1, "$") && Expand(v1, Lookup(got)) != v1 {
			t.Fatalf("Expand changed %q", v1)
		}
		_ = Environ(got)
	})
}

func BenchmarkResolve(b *testing.B) {
	var vars []pipeline.Variable
	for i := range 200 {
		vars = append(vars, v("PREDEF_"+strconv.Itoa(i), "value-"+strconv.Itoa(i)))
	}
	vars = append(vars, v("URL", "https://$PREDEF_1/$PREDEF_2/${PREDEF_3}"), v("IMG", "$URL:$PREDEF_199"))
	for b.Loop() {
		Resolve(vars)
	}
}
