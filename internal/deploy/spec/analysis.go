package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// RolloutAnalysis names the analysis templates (from the spec's
// analysis.templates) measured together at one point of a rollout, as an
// Argo Rollouts step's `analysis: {templates: [...]}`.
type RolloutAnalysis struct {
	Templates []string `json:"templates"`
}

// BackgroundAnalysis runs for the whole of a canary rollout from
// StartingStep on; its failure aborts the rollout whatever step it is at.
type BackgroundAnalysis struct {
	Templates []string `json:"templates"`
	// StartingStep is the index of the step before which the analysis
	// starts (0: from the beginning).
	StartingStep int `json:"startingStep,omitempty"`
}

var (
	rolloutAnalysisKeys    = []string{"templates"}
	backgroundAnalysisKeys = []string{"templates", "startingStep"}
)

// rolloutAnalysis reads `{templates: [a, b]}`.
func (d *decoder) rolloutAnalysis(v *node, path string) *RolloutAnalysis {
	n := d.fields(v, path, rolloutAnalysisKeys...)
	if n == nil {
		if v.kind == kNull {
			d.errorf(v.at, path, "needs templates: a list of analysis template names")
		}
		return nil
	}
	a := &RolloutAnalysis{}
	if x := n.get("templates"); x != nil {
		a.Templates = d.templateNames(x, path+".templates")
	}
	return a
}

func (d *decoder) backgroundAnalysis(v *node, path string) *BackgroundAnalysis {
	n := d.fields(v, path, backgroundAnalysisKeys...)
	if n == nil {
		return nil
	}
	a := &BackgroundAnalysis{}
	if x := n.get("templates"); x != nil {
		a.Templates = d.templateNames(x, path+".templates")
	}
	if x := n.get("startingStep"); x != nil {
		a.StartingStep, _ = d.integer(x, path+".startingStep")
	}
	return a
}

// templateNames reads a list of names, recording each one's position so
// that an unknown name is reported where it is written.
func (d *decoder) templateNames(n *node, path string) []string {
	if n.kind == kScalar {
		// A single name is a list of one.
		d.positions[path+"[0]"] = n.at
		return []string{n.value}
	}
	names := d.stringList(n, path)
	if n.kind == kSeq {
		for i, item := range n.items {
			d.positions[fmt.Sprintf("%s[%d]", path, i)] = item.at
		}
	}
	return names
}

// templateNames lists the names under analysis.templates, which the
// analysis package parses in full; Validate only needs the names.
func (s *Spec) templateNames() []string {
	ts, _ := s.Analysis["templates"].(map[string]any)
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// analysisRef checks that a rollout's analysis names templates that exist.
func (v *validator) analysisRef(path string, templates []string) {
	if len(templates) == 0 {
		v.errorf(path, "needs at least one template name")
		return
	}
	known := v.s.templateNames()
	seen := map[string]bool{}
	for i, name := range templates {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case seen[name]:
			v.errorf(p, "names template %q twice", name)
		case !slices.Contains(known, name):
			if len(known) == 0 {
				v.errorf(p, "names template %q, but the spec has no analysis.templates", name)
			} else {
				v.errorf(p, "names unknown template %q; analysis.templates has %s", name, strings.Join(known, ", "))
			}
		}
		seen[name] = true
	}
}
