package compat_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/inmem"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testenv/httpstack"
)

// TestWhatsAppOperatorGuessesThrottled: seed 001 authenticates with the
// operator's secret; past the bound of wrong ones from a network it answers
// 429 with Retry-After in its own envelope, never a 500.
func TestWhatsAppOperatorGuessesThrottled(t *testing.T) {
	st := httpstack.New(t, httpstack.SQLiteDSN(t), httpstack.Options{AdminSecret: adminSecret, LoginLimiter: inmem.NewRateLimiter()})
	h := testenv.HTTP{Handler: st.Handler}
	var last *testenv.Response
	for i := 0; i < 25; i++ {
		last = h.Do(t, "GET", "/admin/api-keys", nil, "X-Admin-Secret", "a wrong guess of the secret")
		if last.Status == http.StatusTooManyRequests {
			break
		}
		if last.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s, want 401", i+1, last.Status, last.Body)
		}
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" ||
		!strings.Contains(last.String(), `"status":false,"code":429`) {
		t.Fatalf("after many wrong guesses: %d %q %s, want 429 with Retry-After in the envelope", last.Status, last.Header.Get("Retry-After"), last.Body)
	}
	if res := h.Do(t, "GET", "/admin/api-keys", nil, "X-Admin-Secret", adminSecret); res.Status != http.StatusTooManyRequests {
		t.Errorf("the right secret from the guessing network: %d, want 429 until the window ends", res.Status)
	}
}
