package localtarget

import (
	"reflect"
	"testing"

	"github.com/gantry-ci/gantry/internal/deploy/proxy"
	"github.com/gantry-ci/gantry/internal/deploy/strategy"
)

// Traffic reaches ready replicas only: a revision without any gives its
// share to the others, and nothing ready means an empty table (503s)
// rather than a route to a dead address.
func TestMainRoutesFollowReadyReplicas(t *testing.T) {
	eps := map[int64][]string{1: {"127.0.0.1:1001", "127.0.0.1:1002"}, 2: {"127.0.0.1:2001"}}
	header := &strategy.HeaderRoute{Name: "canary", Value: "true", Revision: 2}
	for _, tc := range []struct {
		name string
		t    strategy.Traffic
		eps  map[int64][]string
		want proxy.Routes
	}{
		{
			name: "canary at 20%",
			t:    strategy.Traffic{Weights: map[int64]int{1: 80, 2: 20}, Header: header},
			eps:  eps,
			want: proxy.Routes{
				Backends: []proxy.Backend{{Revision: "1", Weight: 80, Endpoints: eps[1]}, {Revision: "2", Weight: 20, Endpoints: eps[2]}},
				Header:   &proxy.HeaderRoute{Name: "canary", Value: "true", Revision: "2"},
			},
		},
		{
			name: "canary at 20% falls back to the stable revision",
			t:    strategy.Traffic{Weights: map[int64]int{1: 80, 2: 20}, Active: 1, Canary: 2, CanaryWeight: 20, Header: header},
			eps:  eps,
			want: proxy.Routes{
				Backends: []proxy.Backend{{Revision: "1", Weight: 80, Endpoints: eps[1]}, {Revision: "2", Weight: 20, Endpoints: eps[2]}},
				Header:   &proxy.HeaderRoute{Name: "canary", Value: "true", Revision: "2"},
				Fallback: "1",
			},
		},
		{
			name: "rolling split falls back to the old revision",
			t:    strategy.Traffic{Weights: map[int64]int{1: 67, 2: 33}, Active: 1},
			eps:  eps,
			want: proxy.Routes{
				Backends: []proxy.Backend{{Revision: "1", Weight: 67, Endpoints: eps[1]}, {Revision: "2", Weight: 33, Endpoints: eps[2]}},
				Fallback: "1",
			},
		},
		{
			name: "stable not ready: no fallback to a revision without replicas",
			t:    strategy.Traffic{Weights: map[int64]int{1: 80, 2: 20}, Active: 1},
			eps:  map[int64][]string{2: eps[2]},
			want: proxy.Routes{Backends: []proxy.Backend{{Revision: "2", Weight: 20, Endpoints: eps[2]}}},
		},
		{
			name: "canary at 0% is reached through the header only, without fallback",
			t:    strategy.Traffic{Weights: map[int64]int{1: 100}, Active: 1, Header: header},
			eps:  eps,
			want: proxy.Routes{
				Backends: []proxy.Backend{{Revision: "1", Weight: 100, Endpoints: eps[1]}, {Revision: "2", Endpoints: eps[2]}},
				Header:   &proxy.HeaderRoute{Name: "canary", Value: "true", Revision: "2"},
			},
		},
		{
			name: "canary not ready yet: stable takes everything",
			t:    strategy.Traffic{Weights: map[int64]int{1: 80, 2: 20}, Header: header},
			eps:  map[int64][]string{1: eps[1]},
			want: proxy.Routes{Backends: []proxy.Backend{{Revision: "1", Weight: 80, Endpoints: eps[1]}}},
		},
		{
			name: "canary at 0% is reached through the header only",
			t:    strategy.Traffic{Weights: map[int64]int{1: 100}, Header: header},
			eps:  eps,
			want: proxy.Routes{
				Backends: []proxy.Backend{{Revision: "1", Weight: 100, Endpoints: eps[1]}, {Revision: "2", Endpoints: eps[2]}},
				Header:   &proxy.HeaderRoute{Name: "canary", Value: "true", Revision: "2"},
			},
		},
		{
			name: "nothing ready",
			t:    strategy.Traffic{Weights: map[int64]int{1: 100}},
			eps:  map[int64][]string{},
			want: proxy.Routes{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mainRoutes(tc.t, tc.eps)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("routes = %+v, want %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the proxy refuses the routes: %v", err)
			}
		})
	}
}
