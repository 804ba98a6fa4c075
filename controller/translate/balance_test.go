package translate

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/table"
)

func TestLoadBalanceValuesMapToPolicies(t *testing.T) {
	for v, kind := range map[string]table.BalanceKind{
		"": table.LeastConn, "least_conn": table.LeastConn, "round_robin": table.RoundRobin,
		"ewma": table.EWMA, "sed": table.SED, "nq": table.NQ,
	} {
		assert.Equal(t, kind, balancePolicy(&annotations.Config{LoadBalance: v}).Kind, "load-balance %q", v)
	}
}
