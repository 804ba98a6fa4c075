package proxy

import "weir.dev/weir/proxy/compress"

// Response compression (table.Action.Compression, the global gzip and
// brotli settings) wraps the client's writer just before forwarding, so
// Weir's own short answers before that point go as they are.

// closeCompression ends a compressed response; an aborted one is left
// unterminated.
func closeCompression(cw *compress.Writer, ex *exchange) {
	_ = cw.Close(ex.abort)
}
