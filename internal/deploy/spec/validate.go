package spec

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var (
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	envVarName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Validate checks the rules a spec must meet whatever its source, so that a
// Spec built or edited in code is held to the same rules as a parsed one.
// Errors point into the file the spec was parsed from, when it was.
func (s *Spec) Validate() error {
	v := &validator{s: s}
	v.spec()
	return v.errs.asError()
}

type validator struct {
	s    *Spec
	errs ErrorList
}

// errorf reports a problem with the value at path, located at that value
// or, when it was not written, at the nearest enclosing one.
func (v *validator) errorf(path, format string, args ...any) {
	at := v.s.locate(path)
	msg := fmt.Sprintf(format, args...)
	if p := strings.TrimSuffix(path, "#key"); p != "" {
		msg = p + " " + msg
	}
	v.errs = append(v.errs, &Error{File: v.s.File, Line: at.line, Column: at.col, Msg: msg})
}

// locate finds the recorded position of path or its closest ancestor.
func (s *Spec) locate(path string) pos {
	for {
		if at, ok := s.positions[path]; ok {
			return at
		}
		if path == "" {
			if s.positions == nil {
				return pos{}
			}
			return pos{1, 1}
		}
		i := strings.LastIndexAny(path, ".[#")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

func (v *validator) spec() {
	s := v.s
	switch {
	case s.App == "":
		v.errorf("app", "is required: the app's name, like wasm-service")
	case len(s.App) > 63 || !dnsLabel.MatchString(s.App):
		v.errorf("app", "%q must be a DNS label: lowercase letters, digits and '-', at most 63 characters", s.App)
	}
	v.runtime()
	v.replicas("replicas", s.Replicas)
	v.healthCheck()
	if s.RevisionHistoryLimit < 0 || s.RevisionHistoryLimit > 1000 {
		v.errorf("revisionHistoryLimit", "must be between 0 and 1000, not %d", s.RevisionHistoryLimit)
	}
	if s.ProgressDeadlineSeconds < 1 || s.ProgressDeadlineSeconds > MaxSeconds {
		v.errorf("progressDeadlineSeconds", "must be between 1 and %d, not %d", MaxSeconds, s.ProgressDeadlineSeconds)
	}
	if len(s.Environments) == 0 {
		v.errorf("environments", "needs at least one environment, like production: {listen: 127.0.0.1:8080}")
	}
	listens := map[string]string{} // normalized address -> key path
	names := map[string]bool{}
	for _, env := range s.Environments {
		v.environment(env, names, listens)
	}
}

func (v *validator) replicas(path string, n int) {
	if n < 0 || n > MaxReplicas {
		v.errorf(path, "must be between 0 and %d, not %d", MaxReplicas, n)
	}
}

func (v *validator) runtime() {
	r := v.s.Runtime
	switch r.Kind {
	case "":
		v.errorf("runtime.kind", "is required: wasm (with module) or process (with command)")
	case RuntimeWasm:
		if r.Module == "" {
			v.errorf("runtime.module", "is required for a wasm runtime: the path of the WASI module")
		}
		if len(r.Command) > 0 {
			v.errorf("runtime.command", "is only for a process runtime; a wasm runtime runs runtime.module")
		}
		if r.Mode != ModeWAGI && r.Mode != ModeListener {
			v.errorf("runtime.mode", "must be wagi or listener, not %q%s", r.Mode, suggest(string(r.Mode), []string{"wagi", "listener"}))
		}
	case RuntimeProcess:
		if len(r.Command) == 0 || r.Command[0] == "" {
			v.errorf("runtime.command", "is required for a process runtime: the program and its arguments")
		}
		if r.Module != "" {
			v.errorf("runtime.module", "is only for a wasm runtime")
		}
		if r.Mode != "" {
			v.errorf("runtime.mode", "is only for a wasm runtime")
		}
	default:
		v.errorf("runtime.kind", "must be wasm or process, not %q%s", r.Kind, suggest(string(r.Kind), []string{"wasm", "process"}))
	}
	for _, k := range sortedKeys(r.Env) {
		switch {
		case !envVarName.MatchString(k):
			v.errorf("runtime.env."+k, "is not a valid variable name")
		case k == "PORT":
			v.errorf("runtime.env.PORT", "is set by Gantry for each replica and cannot be overridden")
		}
	}
}

func (v *validator) healthCheck() {
	h := v.s.HealthCheck
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.errorf("healthCheck.path", "must start with /, like /healthz")
	}
	if h.Interval <= 0 {
		v.errorf("healthCheck.interval", "must be more than 0s")
	}
	if h.Timeout <= 0 {
		v.errorf("healthCheck.timeout", "must be more than 0s")
	}
	if h.FailureThreshold < 1 || h.FailureThreshold > 1000 {
		v.errorf("healthCheck.failureThreshold", "must be between 1 and 1000, not %d", h.FailureThreshold)
	}
	if h.InitialDelay < 0 {
		v.errorf("healthCheck.initialDelay", "must not be negative")
	}
}

func (v *validator) environment(env Environment, names map[string]bool, listens map[string]string) {
	path := "environments." + env.Name
	switch {
	case names[env.Name]:
		v.errorf(path+"#key", "is defined twice")
	case len(env.Name) > 63 || !dnsLabel.MatchString(env.Name):
		v.errorf(path+"#key", "is not a valid environment name: lowercase letters, digits and '-', at most 63 characters")
	}
	names[env.Name] = true
	if env.Listen == "" {
		v.errorf(path+".listen", "is required: the address the environment's proxy listens on, like 127.0.0.1:8080")
	} else {
		v.listen(path+".listen", env.Listen, listens)
	}
	switch env.Tier {
	case TierProduction, TierStaging, TierTesting, TierDevelopment, TierOther:
	default:
		tiers := []string{"production", "staging", "testing", "development", "other"}
		v.errorf(path+".tier", "must be one of %s, not %q%s", strings.Join(tiers, ", "), env.Tier, suggest(string(env.Tier), tiers))
	}
	if env.Replicas != v.s.Replicas {
		// An inherited count is reported once, where it is written.
		v.replicas(path+".replicas", env.Replicas)
	}
	v.strategy(path+".strategy", env)
}

// listen checks an address and that no two environments share it.
func (v *validator) listen(path, addr string, seen map[string]string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "%q is not host:port: %v", addr, stripAddrErr(err))
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		v.errorf(path, "%q needs a port between 1 and 65535", addr)
		return
	}
	if host != "" && host != "localhost" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			v.errorf(path, "%q: the host must be an IP address, localhost or empty (all interfaces)", addr)
			return
		}
		host = ip.Unmap().String()
	}
	key := host + ":" + strconv.Itoa(n)
	if other, dup := seen[key]; dup {
		v.errorf(path, "%q is already used by %s", addr, other)
		return
	}
	seen[key] = path
}

func stripAddrErr(err error) string {
	if e, ok := err.(*net.AddrError); ok {
		return e.Err
	}
	return err.Error()
}

func (v *validator) strategy(path string, env Environment) {
	st := env.Strategy
	count := 0
	for _, set := range []bool{st.Rolling != nil, st.BlueGreen != nil, st.Canary != nil} {
		if set {
			count++
		}
	}
	if count != 1 {
		v.errorf(path, "must set exactly one of rolling, blueGreen or canary")
		return
	}
	switch {
	case st.Rolling != nil:
		r := st.Rolling
		if r.MaxSurge.IsZero() && r.MaxUnavailable.IsZero() {
			v.errorf(path+".rolling.maxUnavailable", "and maxSurge cannot both be 0: the update could never replace a replica")
		}
		if r.MaxSurge.Value < 0 || r.MaxSurge.Value > maxIntOrPercent {
			v.errorf(path+".rolling.maxSurge", "must be between 0 and %d", maxIntOrPercent)
		}
		if r.MaxUnavailable.Value < 0 || (r.MaxUnavailable.Percent && r.MaxUnavailable.Value > 100) || r.MaxUnavailable.Value > maxIntOrPercent {
			v.errorf(path+".rolling.maxUnavailable", "must be between 0 and 100%%, not %s", r.MaxUnavailable)
		}
	case st.BlueGreen != nil:
		v.blueGreen(path+".blueGreen", env)
	case st.Canary != nil:
		v.canary(path+".canary", *st.Canary)
	}
}

func (v *validator) blueGreen(path string, env Environment) {
	b := env.Strategy.BlueGreen
	if b.PreviewListen != "" {
		// Checked against every listen address in the spec, including this
		// environment's own.
		seen := map[string]string{}
		for _, e := range v.s.Environments {
			v.listenQuiet(e.Listen, "environments."+e.Name+".listen", seen)
			if e.Name != env.Name && e.Strategy.BlueGreen != nil && e.Strategy.BlueGreen.PreviewListen != "" {
				v.listenQuiet(e.Strategy.BlueGreen.PreviewListen, "environments."+e.Name+".strategy.blueGreen.previewListen", seen)
			}
		}
		v.listen(path+".previewListen", b.PreviewListen, seen)
	}
	v.seconds(path+".autoPromotionSeconds", b.AutoPromotionSeconds)
	v.seconds(path+".scaleDownDelaySeconds", b.ScaleDownDelaySeconds)
	if c := b.PreviewReplicaCount; c != nil && (*c < 0 || *c > env.Replicas) {
		v.errorf(path+".previewReplicaCount", "must be between 0 and the environment's %d replicas, not %d", env.Replicas, *c)
	}
	if a := b.PrePromotionAnalysis; a != nil {
		v.analysisRef(path+".prePromotionAnalysis.templates", a.Templates)
	}
	if a := b.PostPromotionAnalysis; a != nil {
		v.analysisRef(path+".postPromotionAnalysis.templates", a.Templates)
	}
}

// listenQuiet records a valid address in seen without reporting anything;
// invalid ones are reported where they are defined.
func (v *validator) listenQuiet(addr, path string, seen map[string]string) {
	saved := v.errs
	v.listen(path, addr, seen)
	v.errs = saved
}

func (v *validator) seconds(path string, n int) {
	if n < 0 || n > MaxSeconds {
		v.errorf(path, "must be between 0 and %d, not %d", MaxSeconds, n)
	}
}

func (v *validator) canary(path string, c Canary) {
	if h := c.CanaryHeader; h != nil && !headerToken.MatchString(h.Name) {
		v.errorf(path+".canaryHeader.name", "%q is not a valid HTTP header name", h.Name)
	}
	for i, step := range c.Steps {
		p := fmt.Sprintf("%s.steps[%d]", path, i)
		kinds := 0
		for _, set := range []bool{step.SetWeight != nil, step.Pause != nil, step.SetCanaryScale != nil, step.Analysis != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			v.errorf(p, "must be exactly one of setWeight, pause, setCanaryScale or analysis")
			continue
		}
		switch {
		case step.SetWeight != nil:
			v.weight(p+".setWeight", *step.SetWeight)
		case step.Pause != nil:
			if d := step.Pause.Duration; d != nil && *d < 0 {
				v.errorf(p+".pause.duration", "must not be negative")
			}
		case step.SetCanaryScale != nil:
			v.canaryScale(p+".setCanaryScale", *step.SetCanaryScale)
		case step.Analysis != nil:
			v.analysisRef(p+".analysis.templates", step.Analysis.Templates)
		}
	}
	if a := c.Analysis; a != nil {
		v.analysisRef(path+".analysis.templates", a.Templates)
		if a.StartingStep < 0 || a.StartingStep > len(c.Steps) {
			v.errorf(path+".analysis.startingStep", "must be between 0 and the number of steps (%d), not %d", len(c.Steps), a.StartingStep)
		}
	}
}

func (v *validator) weight(path string, w int) {
	if w < 0 || w > 100 {
		v.errorf(path, "must be between 0 and 100, not %d", w)
	}
}

func (v *validator) canaryScale(path string, sc SetCanaryScale) {
	set := 0
	if sc.Replicas != nil {
		set++
		v.replicas(path+".replicas", *sc.Replicas)
	}
	if sc.Weight != nil {
		set++
		v.weight(path+".weight", *sc.Weight)
	}
	if sc.MatchTrafficWeight {
		set++
	}
	if set != 1 {
		v.errorf(path, "must set exactly one of replicas, weight or matchTrafficWeight: true")
	}
}
