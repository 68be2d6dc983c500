package spec

import "fmt"

var (
	environmentKeys = []string{"listen", "tier", "replicas", "strategy"}
	strategyKeys    = []string{"rolling", "blueGreen", "canary"}
	rollingKeys     = []string{"maxSurge", "maxUnavailable"}
	blueGreenKeys   = []string{"previewListen", "autoPromotionEnabled", "autoPromotionSeconds",
		"scaleDownDelaySeconds", "previewReplicaCount", "prePromotionAnalysis", "postPromotionAnalysis"}
	canaryKeys      = []string{"canaryHeader", "steps", "analysis"}
	headerKeys      = []string{"name", "value"}
	stepKinds       = []string{"setWeight", "pause", "setCanaryScale", "analysis"}
	pauseKeys       = []string{"duration"}
	canaryScaleKeys = []string{"replicas", "weight", "matchTrafficWeight"}
)

func (d *decoder) environments(v *node, s *Spec) []Environment {
	d.positions["environments"] = v.at
	if v.kind != kMap {
		d.errorf(v.at, "environments", "should be a mapping of environment names to settings, not %s", v.describe())
		return nil
	}
	out := make([]Environment, 0, len(v.keys))
	for _, e := range v.keys {
		path := "environments." + e.key
		env := defaultEnvironment(e.key, s)
		d.positions[path+"#key"] = e.at
		if n := d.fields(e.val, path, environmentKeys...); n != nil {
			d.environment(n, path, &env)
		}
		if env.Strategy.Name() == "" {
			env.Strategy = DefaultStrategy()
		}
		out = append(out, env)
	}
	return out
}

func (d *decoder) environment(n *node, path string, env *Environment) {
	if x := n.get("listen"); x != nil {
		env.Listen, _ = d.str(x, path+".listen")
	}
	if x := n.get("tier"); x != nil {
		t, _ := d.str(x, path+".tier")
		env.Tier = Tier(t)
	}
	if x := n.get("replicas"); x != nil {
		env.Replicas, _ = d.integer(x, path+".replicas")
	}
	if x := n.get("strategy"); x != nil {
		env.Strategy = d.strategy(x, path+".strategy")
	}
}

func (d *decoder) strategy(v *node, path string) Strategy {
	var st Strategy
	n := d.fields(v, path, strategyKeys...)
	if n == nil {
		return st
	}
	chosen := ""
	for _, e := range n.keys {
		if !contains(strategyKeys, e.key) {
			continue
		}
		if chosen != "" {
			d.errorf(e.at, path, "has both %s and %s; an environment uses exactly one strategy", chosen, e.key)
			continue
		}
		chosen = e.key
		p := join(path, e.key)
		switch e.key {
		case "rolling":
			r := defaultRolling()
			d.rolling(e.val, p, &r)
			st.Rolling = &r
		case "blueGreen":
			b := defaultBlueGreen()
			d.blueGreen(e.val, p, &b)
			st.BlueGreen = &b
		case "canary":
			c := defaultCanary()
			d.canary(e.val, p, &c)
			st.Canary = &c
		}
	}
	return st
}

func (d *decoder) rolling(v *node, path string, r *Rolling) {
	n := d.fields(v, path, rollingKeys...)
	if n == nil {
		return
	}
	if x := n.get("maxSurge"); x != nil {
		r.MaxSurge, _ = d.intOrPercent(x, path+".maxSurge")
	}
	if x := n.get("maxUnavailable"); x != nil {
		r.MaxUnavailable, _ = d.intOrPercent(x, path+".maxUnavailable")
	}
}

func (d *decoder) blueGreen(v *node, path string, b *BlueGreen) {
	n := d.fields(v, path, blueGreenKeys...)
	if n == nil {
		return
	}
	if x := n.get("previewListen"); x != nil {
		b.PreviewListen, _ = d.str(x, path+".previewListen")
	}
	if x := n.get("autoPromotionEnabled"); x != nil {
		b.AutoPromotionEnabled, _ = d.boolean(x, path+".autoPromotionEnabled")
	}
	if x := n.get("autoPromotionSeconds"); x != nil {
		b.AutoPromotionSeconds, _ = d.integer(x, path+".autoPromotionSeconds")
	}
	if x := n.get("scaleDownDelaySeconds"); x != nil {
		b.ScaleDownDelaySeconds, _ = d.integer(x, path+".scaleDownDelaySeconds")
	}
	if x := n.get("previewReplicaCount"); x != nil && x.kind != kNull {
		if c, ok := d.integer(x, path+".previewReplicaCount"); ok {
			b.PreviewReplicaCount = &c
		}
	}
	if x := n.get("prePromotionAnalysis"); x != nil && x.kind != kNull {
		b.PrePromotionAnalysis = d.rolloutAnalysis(x, path+".prePromotionAnalysis")
	}
	if x := n.get("postPromotionAnalysis"); x != nil && x.kind != kNull {
		b.PostPromotionAnalysis = d.rolloutAnalysis(x, path+".postPromotionAnalysis")
	}
}

func (d *decoder) canary(v *node, path string, c *Canary) {
	n := d.fields(v, path, canaryKeys...)
	if n == nil {
		return
	}
	if x := n.get("canaryHeader"); x != nil {
		c.CanaryHeader = nil // `canaryHeader: null` turns header routing off
		if h := d.fields(x, path+".canaryHeader", headerKeys...); h != nil {
			var m HeaderMatch
			if y := h.get("name"); y != nil {
				m.Name, _ = d.str(y, path+".canaryHeader.name")
			}
			if y := h.get("value"); y != nil {
				m.Value, _ = d.str(y, path+".canaryHeader.value")
			}
			c.CanaryHeader = &m
		}
	}
	if x := n.get("analysis"); x != nil && x.kind != kNull {
		c.Analysis = d.backgroundAnalysis(x, path+".analysis")
	}
	if x := n.get("steps"); x != nil && x.kind != kNull {
		d.positions[path+".steps"] = x.at
		if x.kind != kSeq {
			d.errorf(x.at, path+".steps", "should be a list of steps, not %s", x.describe())
			return
		}
		for i, item := range x.items {
			p := fmt.Sprintf("%s.steps[%d]", path, i)
			if step, ok := d.step(item, p); ok {
				c.Steps = append(c.Steps, step)
			}
		}
	}
}

func (d *decoder) step(v *node, path string) (CanaryStep, bool) {
	var step CanaryStep
	n := d.fields(v, path, stepKinds...)
	if n == nil {
		if v.kind == kNull {
			d.errorf(v.at, path, "is empty; a step is one of %s", listWords(stepKinds))
		}
		return step, false
	}
	if len(n.keys) != 1 {
		if len(n.keys) == 0 {
			d.errorf(n.at, path, "is empty; a step is one of %s", listWords(stepKinds))
		} else {
			d.errorf(n.keys[1].at, path, "has %d keys; each step does exactly one thing (%s), so write them as separate steps", len(n.keys), listWords(stepKinds))
		}
		return step, false
	}
	e := n.keys[0]
	p := join(path, e.key)
	switch e.key {
	case "setWeight":
		w, ok := d.integer(e.val, p)
		if !ok {
			return step, false
		}
		step.SetWeight = &w
	case "pause":
		var pause Pause
		if m := d.fields(e.val, p, pauseKeys...); m != nil {
			if x := m.get("duration"); x != nil && x.kind != kNull {
				dur, ok := d.duration(x, p+".duration")
				if !ok {
					return step, false
				}
				pause.Duration = &dur
			}
		}
		step.Pause = &pause
	case "setCanaryScale":
		var sc SetCanaryScale
		m := d.fields(e.val, p, canaryScaleKeys...)
		if m == nil {
			if e.val.kind == kNull {
				d.errorf(e.val.at, p, "needs one of replicas, weight or matchTrafficWeight")
			}
			return step, false
		}
		if x := m.get("replicas"); x != nil {
			if r, ok := d.integer(x, p+".replicas"); ok {
				sc.Replicas = &r
			}
		}
		if x := m.get("weight"); x != nil {
			if w, ok := d.integer(x, p+".weight"); ok {
				sc.Weight = &w
			}
		}
		if x := m.get("matchTrafficWeight"); x != nil {
			sc.MatchTrafficWeight, _ = d.boolean(x, p+".matchTrafficWeight")
		}
		step.SetCanaryScale = &sc
	case "analysis":
		step.Analysis = d.rolloutAnalysis(e.val, p)
		if step.Analysis == nil {
			return step, false
		}
	default:
		return step, false
	}
	return step, true
}

func listWords(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	out := ""
	for i, w := range words {
		switch {
		case i == 0:
		case i == len(words)-1:
			out += " or "
		default:
			out += ", "
		}
		out += w
	}
	return out
}
