package endpoint

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"weir.dev/weir/proxy/table"
)

func addresses(r *Registry) []string {
	var out []string
	for _, s := range r.Snapshot() {
		out = append(out, s.Address)
	}
	return out
}

// Two tables in service at once (Ingress and a Gateway listener) share the
// state of an endpoint both use, and an endpoint one of them drops stays as
// long as the other uses it.
func TestScopesShareStateAndKeepWhatAnotherUses(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	gw := r.Scope("gateway default/web:80")
	shared := table.Endpoint{Address: "10.0.0.1:80"}
	ing := r.Publish(tableWith(t, &table.Backend{Name: "a", Endpoints: []table.Endpoint{shared, {Address: "10.0.0.2:80"}}}))
	gws := gw.Publish(tableWith(t, &table.Backend{Name: "b", Endpoints: []table.Endpoint{shared}}))
	assert.Same(t, ing.At(0).Endpoints()[0], gws.At(0).Endpoints()[0], "one state per endpoint across scopes")

	// The Ingress table drops both endpoints; the Gateway still uses one.
	r.Publish(tableWith(t, &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.3:80"}}}))
	assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.3:80"}, addresses(r))
	assert.NoError(t, gws.At(0).Endpoints()[0].Gone().Err(), "still in the Gateway's table")

	// Releasing the Gateway's scope forgets its last endpoint.
	empty, _ := table.New(2, nil, nil)
	gw.Publish(empty)
	assert.Equal(t, []string{"10.0.0.3:80"}, addresses(r))
	assert.Error(t, gws.At(0).Endpoints()[0].Gone().Err(), "forgotten")
}

// The endpoint-only path of one scope releases an endpoint only when no
// other scope uses it.
func TestScopePublishChangedKeepsSharedEndpoints(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	gw := r.Scope("gw")
	b := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}}}
	t1 := tableWith(t, b)
	pools := r.Publish(t1)
	gw.Publish(tableWith(t, &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}}}))
	t2 := t1.WithEndpoints(2, map[int][]table.Endpoint{0: {{Address: "10.0.0.9:80"}}})
	r.PublishChanged(t2, pools, []int{0})
	assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.9:80"}, addresses(r))
}
