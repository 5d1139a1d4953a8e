package http

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": latchkey.Version})
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			s.logger.Warn("not ready", "err", err)
			return latchkey.Errorf(latchkey.EUNAVAILABLE, "not ready: the store or the rate-limit counters do not answer (see the server log)")
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Latchkey %s\n\nAPI description: /openapi.json\nHealth: /healthz  Readiness: /readyz  Metrics: /metrics\n", latchkey.Version)
}
