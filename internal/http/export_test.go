package http

import "github.com/latchkey/latchkey/internal/http/httpx"

// NativeRoutes lists the native routing table (method and pattern; no
// handlers) for the external tests that must cover every route.
func NativeRoutes() []httpx.Route {
	var s Server
	var out []httpx.Route
	for _, rt := range s.routes() {
		out = append(out, httpx.Route{Method: rt.method, Pattern: rt.pattern})
	}
	return out
}
