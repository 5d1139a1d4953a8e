package http

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// Every 503 says when to try again: the error's own RetryAfter rounded up
// to whole seconds, else one second.
func TestRenderProblemRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"outage with a hint", &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "down", RetryAfter: 1500 * time.Millisecond}, "2"},
		{"outage without one", latchkey.Errorf(latchkey.EUNAVAILABLE, "down"), "1"},
		{"rate limited", &latchkey.Error{Code: latchkey.ERATELIMITED, Message: "slow down", RetryAfter: 30 * time.Second}, "30"},
		{"bad request", latchkey.FieldError("name", "is bad"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			renderProblem(w, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
			if got := w.Header().Get("Retry-After"); got != tt.want {
				t.Fatalf("Retry-After: got %q, want %q", got, tt.want)
			}
		})
	}
}
