// Package httpx holds the small HTTP helpers that the native API
// (internal/http) and the seed surfaces (internal/http/compat) share and
// that say nothing about who is calling: the body size limit, the
// refusal of strings PostgreSQL cannot store, JSON answers, and the shape
// of a route another surface hands the server.
//
// It imports only the root package and the standard library (a test
// keeps it so): see ARCHITECTURE.md, "Packages".
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
)

// MaxBodyBytes is the largest request body any route reads.
const MaxBodyBytes = 64 << 10

// ErrTooLarge says a request body went past MaxBodyBytes.
var ErrTooLarge = errors.New("request body too large")

// ReadBodyInto reads the request body into buf, at most MaxBodyBytes: past
// the limit the error is ErrTooLarge (and the connection will be closed);
// any other read error comes back as it came. Each surface turns them into
// its own answers. buf lets the verify hot path reuse pooled buffers.
func ReadBodyInto(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) error {
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrTooLarge
		}
		return err
	}
	return nil
}

// WriteJSON writes v as application/json with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	WriteJSONType(w, status, "application/json", v)
}

// WriteJSONType writes v as JSON with the status and content type, never
// to be cached.
func WriteJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a failed write means the client left
}
