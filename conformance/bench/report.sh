#!/usr/bin/env bash
# Prints the table of a sidebyside.sh results file (lines "scenario key
# metric proxy round value"): for each measurement and proxy, the median
# value over the rounds, then the median of its per-round ratios to nginx
# with their range. In S3 a request is 1 MiB: rps is MiB/s and cpu_us is
# CPU µs per MiB. S6 adds each proxy's 1000-route/1-route ratios, S3RSS
# each proxy's peak RSS by body size, S10 each Weir's CPU per request with
# access annotations over the same without (and none/none, the noise). A "*"
# marks a maximum-rate figure where the proxy used less than 90 % of its
# core (median util): something else limited it.
#
# usage: conformance/bench/report.sh RESULTS
set -euo pipefail
awk '
function med(arr, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j+1] = arr[j]; arr[j+1] = t }
	return n % 2 ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
}
{
	k = $1 SUBSEP $2 SUBSEP $3
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
	if (!(($1, $4) in pseen)) { pseen[$1, $4] = 1; plist[$1] = plist[$1] " " $4 }
	v[$1, $2, $3, $4, $5] = $6
	if ($5 + 0 > rounds) rounds = $5 + 0
}
END {
	printf "%-5s %-22s %-8s %-8s %10s %9s %13s %5s %5s\n", "scen", "key", "metric", "proxy", "median", "/nginx", "range", "util", "busy"
	for (i = 1; i <= nk; i++) {
		split(order[i], f, SUBSEP); s = f[1]; key = f[2]; m = f[3]
		if (m == "util" || m == "busy" || m == "bad" || m == "errors") continue
		noratio = (m == "failed" || m == "share_pct" || m == "survived_pct" || m == "exact_pct" || m == "sent_pct")
		np = split(plist[s], ps, " ")
		for (j = 1; j <= np; j++) {
			p = ps[j]; n = 0; nr = 0; nu = 0; nb = 0; lo = ""; hi = ""
			for (r = 1; r <= rounds; r++) {
				if (!((s, key, m, p, r) in v)) continue
				a[++n] = v[s, key, m, p, r]
				if (!noratio && (s, key, m, "nginx", r) in v && v[s, key, m, "nginx", r] > 0) {
					x = v[s, key, m, p, r] / v[s, key, m, "nginx", r]; q[++nr] = x
					if (lo == "" || x < lo) lo = x; if (hi == "" || x > hi) hi = x
				}
				if ((s, key, "util", p, r) in v) u[++nu] = v[s, key, "util", p, r]
				if ((s, key, "busy", p, r) in v) b[++nb] = v[s, key, "busy", p, r]
			}
			if (!n) continue
			ratio = nr ? sprintf("%.2f", med(q, nr)) : "-"
			range = nr ? sprintf("%.2f-%.2f", lo, hi) : "-"
			util = nu ? med(u, nu) : -1; busy = nb ? med(b, nb) : -1
			flag = (m == "rps" && nu && util < 0.9) ? "*" : ""
			printf "%-5s %-22s %-8s %-8s %10.2f %9s %13s %5s %5s%s\n", s, key, m, p, med(a, n), ratio, range,
				nu ? sprintf("%.2f", util) : "", nb ? sprintf("%.2f", busy) : "", flag
		}
	}
	# S6: for each proxy, the 1000-route/1-route ratios, per round then median;
	# a proxy without a round that has both figures says so (no silent
	# empty line).
	ns6 = split(plist["s6"], s6p, " ")
	for (j = 1; j <= ns6; j++) {
		p = s6p[j]; n = 0; nc = 0
		split("", ra); split("", rc)
		for (r = 1; r <= rounds; r++) {
			if (("s6", "routes=1000", "rps", p, r) in v && v["s6", "routes=1", "rps", p, r] > 0)
				ra[++n] = v["s6", "routes=1000", "rps", p, r] / v["s6", "routes=1", "rps", p, r]
			if (("s6", "routes=1000", "cpu_us", p, r) in v && v["s6", "routes=1", "cpu_us", p, r] > 0)
				rc[++nc] = v["s6", "routes=1000", "cpu_us", p, r] / v["s6", "routes=1", "cpu_us", p, r]
		}
		if (n && nc)
			printf "s6    %-8s 1000 routes / 1 route: rps %.3f, cpu per request %.3f (medians of %d rounds)\n", p, med(ra, n), med(rc, nc), n
		else
			printf "s6    %-8s 1000 routes / 1 route: no round measured both\n", p
	}
	# S3RSS: per proxy, direction and connection count, the median peak
	# RSS at each body size, and whether it grows with the size.
	for (i = 1; i <= nk; i++) {
		split(order[i], f, SUBSEP)
		if (f[1] != "s3rss" || f[3] != "peak_mib") continue
		split(f[2], kf, ","); sz = kf[2]; sub(/size=/, "", sz); sub(/MiB/, "", sz)
		grp = kf[1] " " kf[3]
		if (!((grp) in gseen)) { gseen[grp] = 1; groups[++ng] = grp }
		if (!((sz) in zseen)) { zseen[sz] = 1; sizes[++nz] = sz + 0 }
	}
	for (a1 = 2; a1 <= nz; a1++) { t = sizes[a1]; for (a2 = a1 - 1; a2 >= 1 && sizes[a2] > t; a2--) sizes[a2+1] = sizes[a2]; sizes[a2+1] = t }
	nrs = split(plist["s3rss"], rsp, " ")
	for (j = 1; j <= nrs; j++) for (g = 1; g <= ng; g++) {
		p = rsp[j]; split(groups[g], gf, " "); line = ""; lo = ""; hi = ""; idl = ""
		for (z = 1; z <= nz; z++) {
			key = gf[1] ",size=" sizes[z] "MiB," gf[2]; n = 0; ni = 0
			for (r = 1; r <= rounds; r++) {
				if (("s3rss", key, "peak_mib", p, r) in v) a[++n] = v["s3rss", key, "peak_mib", p, r]
				if (("s3rss", key, "idle_mib", p, r) in v) q[++ni] = v["s3rss", key, "idle_mib", p, r]
			}
			if (!n) continue
			pk = med(a, n); line = line sprintf("%s%s MiB: %.1f", line == "" ? " " : ", ", sizes[z], pk)
			if (lo == "") lo = pk; hi = pk
			if (idl == "" && ni) idl = med(q, ni)
		}
		if (line == "") continue
		printf "s3rss %-8s %-9s peak RSS MiB by body size:%s (idle %.1f); largest - smallest %+.1f MiB: %s\n", p, groups[g], line, idl,
			hi - lo, (hi - lo < 16 ? "independent of body size" : "GROWS with body size")
	}
	# S10: for each Weir, CPU per request with annotations elsewhere or on the
	# route, over the same without, per round; none,again/none is the noise.
	n10 = split(plist["s10"], s10p, " ")
	for (j = 1; j <= n10; j++) {
		p = s10p[j]; out = ""
		split("others:none others,again:none,again self:none self+auth-url:none none,again:none", pairs, " ")
		split("", by); split("", cnt)
		for (x = 1; x <= 5; x++) {
			split(pairs[x], pp, ":"); name = pp[1]; sub(/,again/, "", name)
			if (pp[1] == "none,again") name = "none,again"
			for (r = 1; r <= rounds; r++) {
				num = "annot=" pp[1]; den = "annot=" pp[2]
				if (("s10", num, "cpu_us", p, r) in v && v["s10", den, "cpu_us", p, r] > 0)
					by[name, ++cnt[name]] = v["s10", num, "cpu_us", p, r] / v["s10", den, "cpu_us", p, r]
			}
		}
		split("others self self+auth-url none,again", names, " ")
		for (x = 1; x <= 4; x++) {
			name = names[x]; n = cnt[name]
			if (!n) continue
			split("", a); lo = ""; hi = ""
			for (y = 1; y <= n; y++) { a[y] = by[name, y]; if (lo == "" || a[y] < lo) lo = a[y]; if (hi == "" || a[y] > hi) hi = a[y] }
			out = out sprintf("; %s/none %.3f (%.3f-%.3f, n=%d)", name, med(a, n), lo, hi, n)
		}
		printf "s10   %-8s cpu per request%s\n", p, out == "" ? ": no round measured" : out
	}
	for (k2 in v) { split(k2, f, SUBSEP); if ((f[3] == "bad" && v[k2] > 0) || f[3] == "errors") errs[f[1] " " f[2] " " f[4]] = 1 }
	for (e in errs) printf "non-200 answers or socket errors: %s\n", e
}' "$1"
