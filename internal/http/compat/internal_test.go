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
			for _, tt := range []struct {
				name, method, path, body string
				headers                  []string
				want                     string
			}{
				{"seed 000", "PATCH", "/api/admin/api-tokens/123", `{"status":"revoked"}`,
					hdrs([]string{"X-CSRF-Token", f.admin.CSRF}, cookie(f.admin)), `{"error":"internal_error"}`},
				{"seed 001", "PATCH", "/admin/api-keys/42", `{"is_active":false}`, []string{"X-Admin-Secret", adminSecret},
					`{"status":false,"code":500,"message":"Failed to update API key","error":"Failed to update API key"}`},
				{"seed 002", "PATCH", "/apikeys/42", `{"description":"d","flatPermissionsList":[]}`,
					[]string{"Authorization", "Bearer " + f.admin.Access}, `{"error":"Internal server error"}`},
				{"seed 003", "PUT", "/api/admin/api-tokens/" + f.keySecret, `{"expiresAt":"2027-01-01T00:00:00Z"}`,
					[]string{"Authorization", f.root}, `{"id":"<id>","name":"InternalError",
					"message":"Latchkey could not complete the request because of an internal error.",
					"details":[{"message":"Latchkey could not complete the request because of an internal error."}]}`},
			} {
				t.Run(tt.name, func(t *testing.T) {
					status, body, _ := f.do(t, tt.method, tt.path, tt.body, tt.headers...)
					if status != http.StatusInternalServerError {
						t.Fatalf("status: got %d %s, want 500", status, body)
					}
					if strings.HasPrefix(tt.want, `{"id"`) {
						body = unleashBody(t, body)
					}
					MustJSONEqual(t, body, tt.want)
				})
			}
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
