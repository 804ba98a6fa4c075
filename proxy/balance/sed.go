package balance

// shortestDelay is IPVS's shortest expected delay (sed): the candidate with
// the least (in-flight+1)/weight. Every endpoint weighs 1 (an EndpointSlice
// carries no weights), so that is the fewest requests in flight. Unlike
// least_conn, ties are not drawn at random but taken in turn: each pick
// starts one candidate further, so with nothing in flight sed is exactly
// round robin, and an idle endpoint always beats a busy one.
//
// IPVS's never queue (nq) sends to an idle server first and otherwise uses
// sed; it differs from sed only when weights differ (sed may queue on a
// heavy busy server while a light one idles). With equal weights the idle
// candidate is sed's choice, so nq uses this same function.
func (p *Pool) shortestDelay(f filter, n int) *Endpoint {
	start := int(p.rr.Add(1) % uint64(n))
	var best *Endpoint
	var bestN int64
	bestRank, j := 0, 0
	for _, e := range p.eps {
		if !f.ok(e) {
			continue
		}
		// rank is the candidate's place in this pick's turn order.
		rank := (j - start + n) % n
		j++
		in := e.inFlight.Load()
		if best == nil || in < bestN || (in == bestN && rank < bestRank) {
			best, bestN, bestRank = e, in, rank
		}
	}
	return best
}
