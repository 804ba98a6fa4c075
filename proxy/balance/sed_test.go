package balance

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"weir.dev/weir/proxy/table"
)

func TestShortestDelayTakesTiesInTurn(t *testing.T) {
	// With nothing in flight every endpoint expects the same delay: sed and
	// nq then spread exactly evenly, as round robin does.
	for _, kind := range []table.BalanceKind{table.SED, table.NQ} {
		eps := endpoints(3, nil)
		c := counts(pool(kind, eps), 300)
		for _, e := range eps {
			assert.Equal(t, 100, c[e], "%s", kind)
		}
	}
}

func TestShortestDelayPrefersTheIdleEndpoint(t *testing.T) {
	for _, kind := range []table.BalanceKind{table.SED, table.NQ} {
		eps := endpoints(3, nil)
		p := pool(kind, eps)
		eps[0].Begin()
		eps[0].Begin()
		eps[1].Begin()
		c := counts(p, 100)
		assert.Equal(t, 100, c[eps[2]], "%s: the idle endpoint expects the shortest delay", kind)
		// Requests that stay in flight fill the least busy endpoint first,
		// then spread in turn.
		for i := 0; i < 6; i++ {
			p.Pick(req, "", nil).Begin()
		}
		assert.Equal(t, []int64{3, 3, 3}, []int64{eps[0].InFlight(), eps[1].InFlight(), eps[2].InFlight()}, "%s", kind)
	}
}

func TestShortestDelaySkipsUnavailableWithoutSkew(t *testing.T) {
	// The turn order is over candidates, so an unavailable endpoint does not
	// hand its share to its neighbour.
	eps := endpoints(4, nil)
	eps[1].SetHealthy(false)
	c := counts(pool(table.SED, eps), 300)
	assert.Zero(t, c[eps[1]])
	for _, i := range []int{0, 2, 3} {
		assert.Equal(t, 100, c[eps[i]])
	}
}
