package analysis

import (
	"context"
	"fmt"
	"net/http"
)

// Providers measures any metric with the provider its spec names; it is the
// Provider a controller hands to Runner.
type Providers struct {
	// Stats feeds builtin metrics; usually the environment's *proxy.Proxy.
	Stats Source
	// Client sends prometheus and web requests; http.DefaultClient when
	// nil.
	Client *http.Client
}

// Measure dispatches on the metric's provider.
func (p Providers) Measure(ctx context.Context, m *Metric, args Args) (Measurement, error) {
	switch {
	case m.Provider.Builtin != nil:
		return Builtin{Source: p.Stats}.Measure(ctx, m, args)
	case m.Provider.Prometheus != nil:
		return Prometheus{Client: p.Client}.Measure(ctx, m, args)
	case m.Provider.Web != nil:
		return Web{Client: p.Client}.Measure(ctx, m, args)
	case m.Provider.Job != nil:
		return Job{}.Measure(ctx, m, args)
	}
	return Measurement{}, fmt.Errorf("metric %q has no provider", m.Name)
}

// Timeouts come from each metric's spec through the request context, which
// is why a shared client without its own timeout is right here.
var _ Provider = Providers{}
