package http_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	lkhttp "github.com/latchkey/latchkey/internal/http"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestAuthorize drives the gateway endpoint as nginx, Caddy, Traefik and
// Envoy would: each verify outcome becomes its status, headers and code.
func TestAuthorize(t *testing.T) {
	f := MustFixture(t)
	owner := "ops@acme.test"
	reset := time.Now().Add(90 * time.Second).Truncate(time.Second)
	var got latchkey.VerifyRequest
	f.verifier.VerifyFn = func(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
		got = *req
		if accountID != 7 {
			t.Errorf("verify in account %d, want the root key's 7", accountID)
		}
		res := &latchkey.VerifyResult{KeyID: 42, AccountID: 7, OwnerEmail: &owner, Meta: json.RawMessage(`{"plan":"pro"}`),
			RateLimit: &latchkey.RateLimitState{Limit: 100, WindowSeconds: 3600, Remaining: 41, ResetAt: reset}}
		switch req.Key {
		case "lk_valid":
			res.Code, res.Valid = latchkey.CodeValid, true
		case "lk_revoked":
			res.Code = latchkey.CodeRevoked
		case "lk_limited":
			res.Code = latchkey.CodeRateLimited
		case "lk_nocredits":
			res.Code = latchkey.CodeUsageExceeded
		default:
			return &latchkey.VerifyResult{Code: latchkey.CodeNotFound}, nil
		}
		return res, nil
	}
	gw := []string{"X-Latchkey-Root-Key", f.root}
	call := func(method, path string, headers ...string) (int, http.Header, string) {
		t.Helper()
		status, body, h := f.call(t, method, path, "", append(gw, headers...)...)
		return status, h, body
	}
	for _, tt := range []struct {
		name, method, path string
		headers            []string
		status             int
		code               string
	}{
		{"valid by bearer", "GET", "/v1/authorize", []string{"Authorization", "Bearer lk_valid"}, 200, "VALID"},
		{"valid by X-API-Key, any method, Envoy's path", "DELETE", "/v1/authorize/orders/7", []string{"X-API-Key", "lk_valid"}, 200, "VALID"},
		{"valid by a named header", "POST", "/v1/authorize?header=X-Token", []string{"X-Token", "lk_valid"}, 200, "VALID"},
		{"missing", "GET", "/v1/authorize", nil, 401, "MISSING_KEY"},
		{"named header missing", "GET", "/v1/authorize?header=X-Token", []string{"X-API-Key", "lk_valid"}, 401, "MISSING_KEY"},
		{"unknown", "GET", "/v1/authorize", []string{"X-API-Key", "lk_unknown"}, 401, "NOT_FOUND"},
		{"too long to be a key", "GET", "/v1/authorize", []string{"X-API-Key", "lk_" + strings.Repeat("a", 300)}, 401, "NOT_FOUND"},
		{"revoked", "GET", "/v1/authorize", []string{"X-API-Key", "lk_revoked"}, 403, "REVOKED"},
		{"rate limited", "GET", "/v1/authorize", []string{"X-API-Key", "lk_limited"}, 429, "RATE_LIMITED"},
		{"out of credits", "GET", "/v1/authorize", []string{"X-API-Key", "lk_nocredits"}, 429, "USAGE_EXCEEDED"},
		{"rate limited, for nginx", "GET", "/v1/authorize?deny=nginx", []string{"X-API-Key", "lk_limited"}, 403, "RATE_LIMITED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := call(tt.method, tt.path, tt.headers...)
			if status != tt.status || h.Get("X-Latchkey-Code") != tt.code {
				t.Fatalf("got %d %q, want %d %q (body %q)", status, h.Get("X-Latchkey-Code"), tt.status, tt.code, body)
			}
			if status == 200 && body != "" {
				t.Errorf("body: got %q, want none", body)
			}
			if status != 200 && !strings.Contains(body, `"code":"`+tt.code+`"`) {
				t.Errorf("refusal body: got %q, want a problem naming %s", body, tt.code)
			}
			if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: %v", h)
			}
			if status == 429 && tt.code == "RATE_LIMITED" && h.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %v", h)
			}
			if status == 200 {
				if h.Get("X-Latchkey-Key-Id") != "42" || h.Get("X-Latchkey-Owner") != owner ||
					h.Get("X-Latchkey-Meta") != base64.StdEncoding.EncodeToString([]byte(`{"plan":"pro"}`)) {
					t.Errorf("allow headers: got %v", h)
				}
				if p, r := h.Get("RateLimit-Policy"), h.Get("RateLimit"); p != `"default";q=100;w=3600` || !strings.HasPrefix(r, `"default";r=41;t=`) {
					t.Errorf("RateLimit headers: got %q and %q", p, r)
				}
			}
		})
	}

	// The gateway's configuration reaches verify.
	call("GET", "/v1/authorize?permissions=read,write&cost=3&device_header=X-Device", "X-API-Key", "lk_valid", "X-Device", "laptop-7")
	if got.Cost == nil || *got.Cost != 3 || got.DeviceID != "laptop-7" || strings.Join(got.Permissions, ",") != "read,write" {
		t.Fatalf("verify request: got %+v, want permissions read,write, cost 3, device laptop-7", got)
	}

	// A gateway without its own credential never gets the end user's key
	// looked at; one set up wrong fails closed. Nothing is let through.
	got = latchkey.VerifyRequest{}
	for _, tt := range []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
	}{
		{"no root key", "/v1/authorize", []string{"X-API-Key", "lk_valid"}, 401, "GATEWAY_UNAUTHORIZED"},
		{"an api key as the root key", "/v1/authorize", []string{"X-Latchkey-Root-Key", f.apiKey, "X-API-Key", "lk_valid"}, 401, "GATEWAY_UNAUTHORIZED"},
		{"a revoked root key", "/v1/authorize", []string{"X-Latchkey-Root-Key", f.revoked, "X-API-Key", "lk_valid"}, 401, "GATEWAY_UNAUTHORIZED"},
		{"a root key without keys:verify", "/v1/authorize", []string{"X-Latchkey-Root-Key", f.readOnly, "X-API-Key", "lk_valid"}, 403, "GATEWAY_FORBIDDEN"},
		{"an unknown parameter", "/v1/authorize?permission=read", []string{"X-Latchkey-Root-Key", f.root, "X-API-Key", "lk_valid"}, 500, "MISCONFIGURED"},
		{"a bad cost", "/v1/authorize?cost=-1", []string{"X-Latchkey-Root-Key", f.root, "X-API-Key", "lk_valid"}, 500, "MISCONFIGURED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, h := f.call(t, "GET", tt.path, "", tt.headers...)
			if status != tt.status || h.Get("X-Latchkey-Code") != tt.code || h.Get("X-Latchkey-Key-Id") != "" {
				t.Fatalf("got %d %q, want %d %s", status, h.Get("X-Latchkey-Code"), tt.status, tt.code)
			}
		})
	}
	if got.Key != "" {
		t.Fatalf("the end user's key was verified for a gateway without its credential: %+v", got)
	}

	// An outage is a 503 with Retry-After: the gateway refuses, and says when to try again.
	f.verifier.VerifyFn = func(context.Context, int64, *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
		return nil, &latchkey.Error{Code: latchkey.EUNAVAILABLE, Message: "down", RetryAfter: 2 * time.Second}
	}
	if status, h, _ := call("GET", "/v1/authorize", "X-API-Key", "lk_valid"); status != 503 || h.Get("Retry-After") != "2" {
		t.Fatalf("outage: got %d Retry-After %q, want 503 and 2", status, h.Get("Retry-After"))
	}
}

// The gateway's original request is recorded with the key and the outcome,
// at debug, without its query (where a secret may be).
func TestAuthorizeRecordsTheOriginalRequest(t *testing.T) {
	logs := &testenv.Buffer{}
	f := MustFixture(t, func(s *lkhttp.Server) {
		s.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.verifier.VerifyFn = func(ctx context.Context, accountID int64, req *latchkey.VerifyRequest) (*latchkey.VerifyResult, error) {
		if req.Key == "lk_valid" {
			return &latchkey.VerifyResult{Valid: true, Code: latchkey.CodeValid, KeyID: 42}, nil
		}
		return &latchkey.VerifyResult{Code: latchkey.CodeNotFound}, nil
	}
	gw := []string{"X-Latchkey-Root-Key", f.root}
	f.http.MustDo(t, 200, "GET", "/v1/authorize", "", append(gw, "X-API-Key", "lk_valid",
		"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/orders/7?api_key=lk_secret", "X-Original-Method", "PUT", "X-Original-URI", "/other")...)
	f.http.MustDo(t, 401, "DELETE", "/v1/authorize/orders/9", "", append(gw, "X-API-Key", "lk_unknown")...)
	f.http.MustDo(t, 401, "GET", "/v1/authorize", "", append(gw, "X-Original-Method", "PUT", "X-Original-URI", "/nginx")...)
	out := logs.String()
	for _, want := range []string{
		`level=DEBUG msg="gateway authorize" method=POST path=/orders/7 key_id=42 code=VALID`,
		`level=DEBUG msg="gateway authorize" method=DELETE path=/orders/9 key_id=0 code=NOT_FOUND`,
		`level=DEBUG msg="gateway authorize" method=PUT path=/nginx key_id=0 code=MISSING_KEY`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs: got %q, want a line with %q", out, want)
		}
	}
	if strings.Contains(out, "lk_secret") || strings.Contains(out, f.root) {
		t.Fatalf("logs carry a secret: %q", out)
	}
}
