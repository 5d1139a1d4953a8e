package http

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 description of the native routes. A test
// checks that every route of routes() is in it.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI is GET /openapi.json: the embedded document, readable from any origin.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err := w.Write(openAPI)
	return err
}
