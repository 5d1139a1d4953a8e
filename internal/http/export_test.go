package http

// NativeRoutes lists the native routing table (method and pattern; no
// handlers) for the external tests that must cover every route.
func NativeRoutes() []Route {
	var s Server
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, Route{Method: rt.method, Pattern: rt.pattern})
	}
	return out
}
