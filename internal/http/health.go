package http

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Check is one thing /readyz reports on.
type Check struct {
	Name string // "store", "redis", "feed"
	// Check returns nil when the dependency serves, else an error whose
	// message says what a reader of /readyz should know.
	Check func(ctx context.Context) error
	// Degraded marks a check whose failure leaves the instance serving, in
	// a weaker way (Redis down: limits counted per instance): /readyz then
	// still answers 200, with status "degraded".
	Degraded bool
}

// readyTimeout bounds all of /readyz's checks.
const readyTimeout = 2 * time.Second

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": latchkey.Version})
	return nil
}

// handleReadyz runs every check at once and reports each: 200 "ready" when
// all pass, 200 "degraded" when only degraded ones fail, else an
// unavailable problem (503 with Retry-After) naming each failing check.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(s.Checks))
	for i, c := range s.Checks {
		go func() { results <- result{i, c.Check(ctx)} }()
	}
	checks := make(map[string]string, len(s.Checks))
	failing := map[string]string{}
	status := "ready"
	for range s.Checks {
		res := <-results
		c := s.Checks[res.i]
		if res.err == nil {
			checks[c.Name] = "ok"
			continue
		}
		checks[c.Name] = latchkey.ErrorMessage(res.err)
		s.logger.Warn("readiness check failed", "check", c.Name, "err", res.err)
		if c.Degraded {
			status = "degraded"
		} else {
			failing[c.Name] = checks[c.Name]
		}
	}
	if len(failing) > 0 {
		names := slices.Sorted(maps.Keys(failing))
		return &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "not ready: " + strings.Join(names, ", "),
			Fields: failing, RetryAfter: 2 * time.Second}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "checks": checks})
	return nil
}

// handleIndex answers the server's root: a browser (it accepts HTML) is
// sent to the web UI when one is served (UIPath), anything else gets a
// plain page naming the API's entry points.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if s.UIPath != "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, s.UIPath, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ui := ""
	if s.UIPath != "" {
		ui = "Web UI: " + s.UIPath + "\n"
	}
	fmt.Fprintf(w, "Latchkey %s\n\n%sAPI description: /openapi.json\nHealth: /healthz  Readiness: /readyz  Metrics: /metrics\n", latchkey.Version, ui)
}
