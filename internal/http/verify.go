package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// bufPool holds request-body buffers for the verify hot path.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// handleVerify is POST /v1/keys/verify: 200 with valid and code for every
// key outcome; 4xx only for a bad request or a bad caller credential.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := readBodyInto(w, r, buf); err != nil {
		return err
	}
	var req latchkey.VerifyRequest
	if err := unmarshalStrict(buf.Bytes(), &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	res, err := s.Verifier.Verify(r.Context(), principalFrom(r.Context()).AccountID, &req)
	if err != nil {
		return err
	}
	s.metrics.observeVerify(res.Code, time.Since(start))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(res)
}
