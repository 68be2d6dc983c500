package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadOrdersStepsAndRefusesBadNames(t *testing.T) {
	steps, err := Load(fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
		"m/notes.txt":      {Data: []byte("ignored")},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Version != 2 || steps[0].SQL != "A" || steps[1].Name != "0010_later.sql" {
		t.Fatalf("steps %+v, want 0002 then 0010", steps)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number":    {"m/init.sql": {}},
		"zero":         {"m/0000_x.sql": {}},
		"same version": {"m/0001_a.sql": {}, "m/01_b.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil || !strings.Contains(err.Error(), "migration") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}
