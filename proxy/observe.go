package proxy

import (
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"weir.dev/weir/proxy/table"
)

// observe records a finished request in the metrics and the access log.
func (s *Server) observe(r *http.Request, rs *routeSeries, ex *exchange) {
	d := time.Since(ex.start)
	if rs != nil {
		sm := sample{total: d, reqBytes: requestSize(r), respBytes: ex.bytes}
		if ex.attempts > 0 && ex.upLatency > 0 {
			sm.forwarded, sm.header, sm.connect = true, ex.upLatency, ex.out.dialed
			sm.response = max(d-ex.upStart, ex.upLatency)
		}
		rs.get(ex.backend).observe(r.Method, ex.status, &sm)
	}
	if reason := errorReason(ex); reason != "" {
		s.metrics.errors.WithLabelValues(reason).Inc()
		level := zapcore.WarnLevel
		if reason == reasonNoRoute || reason == reasonBadRequest || reason == reasonClientBody {
			level = zapcore.DebugLevel // scanners would flood the log otherwise
		}
		s.log.Log(level, "request not forwarded",
			zap.String("reason", reason),
			zap.String("host", r.Host),
			zap.String("path", r.URL.Path),
			zap.Int("status", ex.status),
			zap.String("backend", backendName(ex.backend)),
			zap.String("upstream", ex.upstream),
			zap.String("request_id", ex.info.requestID),
			zap.Error(ex.err))
	}
	if s.accessLog != nil {
		s.accessLog.write(r, ex, d)
	}
}

// requestSize is the size of r as received, as far as Weir knows it without
// counting bytes: the head as parsed (listen.go) and the declared body
// length (a chunked body counts 0).
func requestSize(r *http.Request) int64 {
	return int64(requestHeadSize(r)) + max(r.ContentLength, 0)
}

func errorReason(ex *exchange) string {
	switch {
	case ex.reason != "":
		return ex.reason
	case ex.route == nil && ex.status == http.StatusNotFound:
		return reasonNoRoute
	case ex.backend != nil && ex.attempts == 0 && ex.status >= 500:
		return reasonNoEndpoint
	case ex.status == http.StatusGatewayTimeout && ex.attempts > 0:
		return reasonUpstreamTimeout
	case ex.status == http.StatusBadGateway && ex.attempts > 0 && ex.err != nil:
		return reasonUpstreamError
	case ex.backend == nil && ex.status == http.StatusInternalServerError:
		return reasonNoWeight
	}
	return ""
}

func backendName(b *table.Backend) string {
	if b == nil {
		return ""
	}
	return b.Name
}
