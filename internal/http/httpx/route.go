package httpx

import "net/http"

// Route is one route a surface other than the native API serves on the
// server (the seed surfaces of internal/http/compat).
type Route struct {
	Method  string
	Pattern string
	Handler http.Handler
}

// BadInputRenderer is implemented by a Route's Handler that answers a
// refused request string in its own surface's envelope: the server calls it
// instead of the handler for a path value, query parameter or X-Account-ID
// holding a NUL byte or invalid UTF-8, with an invalid error naming the
// field. A Handler that does not implement it gets problem+json.
type BadInputRenderer interface {
	RenderBadInput(w http.ResponseWriter, r *http.Request, err error)
}
