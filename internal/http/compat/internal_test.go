package compat_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestInternalErrors checks that a failing store or a panic answers 500 in
// each surface's own envelope, and that neither the answer nor the log
// carries a secret (seed 003 has one in its path).
func TestInternalErrors(t *testing.T) {
	for _, mode := range []string{"store fails", "store panics"} {
		t.Run(mode, func(t *testing.T) {
			f := MustFixture(t)
			fail := func() {
				if mode == "store panics" {
					panic("store exploded")
				}
			}
			f.keys.UpdateKeyFn = func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
				fail()
				return nil, errors.New("database is locked")
			}
			f.keys.FindKeyByIDFn = func(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
				fail()
				return nil, errors.New("database is locked")
			}
			f.keys.FindKeyBySecretFn = func(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error) {
				fail()
				return nil, errors.New("database is locked")
			}
			f.runSurfaceRequests(t, http.StatusInternalServerError, updateRequests(f, f.keySecret,
				`{"error":"internal_error"}`,
				`{"status":false,"code":500,"message":"Failed to update API key","error":"Failed to update API key"}`,
				`{"error":"Internal server error"}`,
				`{"id":"<id>","name":"InternalError",
					"message":"Latchkey could not complete the request because of an internal error.",
					"details":[{"message":"Latchkey could not complete the request because of an internal error."}]}`), nil)
			logs := f.logs.String()
			for _, secret := range []string{f.keySecret, f.root, f.admin.Access, f.admin.CSRF, adminSecret} {
				if strings.Contains(logs, secret) {
					t.Errorf("a secret reached the log:\n%s", logs)
				}
			}
			for _, seed := range []string{"seed000", "seed001", "seed002", "seed003"} {
				if !strings.Contains(logs, "surface="+seed) {
					t.Errorf("no log line for %s:\n%s", seed, logs)
				}
			}
		})
	}
}
