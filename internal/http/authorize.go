package http

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file is the gateway endpoint, ANY /v1/authorize[/{path...}]: one
// answer that nginx auth_request, Caddy forward_auth, Traefik ForwardAuth
// and Envoy ext_authz all understand. The gateway names itself with a root
// key holding keys:verify in X-Latchkey-Root-Key; the end user's key comes
// from Authorization: Bearer, X-API-Key, or the header ?header= names. The
// answer to let a request through is 200 with no body, with the key's id,
// owner and meta in headers; 401, 403 and 429 refuse it, each with
// X-Latchkey-Code and a small problem+json body; without its own root key
// the gateway gets 401 (403 without keys:verify) and the end user's key is
// not looked at; a query the gateway's configuration got wrong is a 500,
// an outage 503.

// authorizeParams are the query parameters a gateway's configuration may
// set.
var authorizeParams = map[string]bool{"header": true, "permissions": true, "cost": true, "device_header": true, "deny": true}

// handleAuthorize answers whether the request a gateway holds may pass.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	for name := range q {
		if !authorizeParams[name] {
			return s.gatewayMisconfigured(w, "unknown query parameter "+strconv.Quote(name)+" (header, permissions, cost, device_header, deny)")
		}
	}
	root := strings.TrimSpace(r.Header.Get("X-Latchkey-Root-Key"))
	if root == "" {
		s.logGateway("X-Latchkey-Root-Key is missing: set it to a root key holding keys:verify in the gateway's configuration")
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		return denyGateway(w, http.StatusUnauthorized, "GATEWAY_UNAUTHORIZED", "the gateway sent no X-Latchkey-Root-Key")
	}
	p, err := s.Auth.RootKey(r, root)
	switch {
	case latchkey.ErrorCode(err) == latchkey.EUNAVAILABLE:
		return err
	case err != nil:
		s.logGateway("X-Latchkey-Root-Key is not an active root key")
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		return denyGateway(w, http.StatusUnauthorized, "GATEWAY_UNAUTHORIZED", "the gateway's X-Latchkey-Root-Key is not an active root key")
	case !p.Can(latchkey.PermKeysVerify):
		s.logGateway("X-Latchkey-Root-Key lacks keys:verify")
		return denyGateway(w, http.StatusForbidden, "GATEWAY_FORBIDDEN", "the gateway's root key lacks keys:verify")
	}

	req := latchkey.VerifyRequest{Key: authorizeKey(r, q.Get("header"))}
	// The request the gateway holds is recorded as the key's last request
	// (its query left out: a caller may have put a secret there).
	method, uri := originalRequest(r)
	req.Method = method
	req.Path, _, _ = strings.Cut(uri, "?")
	if perms := q.Get("permissions"); perms != "" {
		for _, p := range strings.Split(perms, ",") {
			if p = strings.TrimSpace(p); p != "" {
				req.Permissions = append(req.Permissions, p)
			}
		}
	}
	if c := q.Get("cost"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			return s.gatewayMisconfigured(w, "?cost must be a whole number of credits, 0 or more")
		}
		req.Cost = &n
	}
	if h := q.Get("device_header"); h != "" {
		req.DeviceID = strings.TrimSpace(r.Header.Get(h))
	}
	nginx := false
	switch q.Get("deny") {
	case "":
	case "nginx":
		nginx = true // nginx's auth_request passes on 401 and 403 only
	default:
		return s.gatewayMisconfigured(w, "?deny must be nginx or absent")
	}

	if req.Key == "" {
		s.logAuthorize(r, &req, 0, "MISSING_KEY")
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		return denyGateway(w, http.StatusUnauthorized, "MISSING_KEY", "no API key was sent")
	}
	if len(req.Key) > latchkey.MaxKeyLen || len(req.DeviceID) > latchkey.MaxDeviceIDLen {
		// The end user's input, too long to be a key or a device id.
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
		return denyGateway(w, http.StatusUnauthorized, string(latchkey.CodeNotFound), denyDetail[latchkey.CodeNotFound])
	}
	res, err := s.Verifier.Verify(r.Context(), p.AccountID, &req)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.EINVALID {
			w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
			return denyGateway(w, http.StatusUnauthorized, string(latchkey.CodeNotFound), denyDetail[latchkey.CodeNotFound])
		}
		return err
	}
	s.metrics.observeVerify(res.Code, time.Since(start))
	s.logAuthorize(r, &req, res.KeyID, string(res.Code))
	now := s.now()
	if rl := res.RateLimit; rl != nil {
		writeRateLimitHeaders(w.Header(), rl, now)
	}
	w.Header().Set("X-Latchkey-Code", string(res.Code))
	switch res.Code {
	case latchkey.CodeValid:
		w.Header().Set("X-Latchkey-Key-Id", strconv.FormatInt(res.KeyID, 10))
		if res.OwnerEmail != nil {
			w.Header().Set("X-Latchkey-Owner", *res.OwnerEmail)
		}
		if len(res.Meta) > 0 {
			w.Header().Set("X-Latchkey-Meta", base64.StdEncoding.EncodeToString(res.Meta))
		}
		w.WriteHeader(http.StatusOK)
		return nil
	case latchkey.CodeNotFound:
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
		return denyGateway(w, http.StatusUnauthorized, string(res.Code), denyDetail[res.Code])
	case latchkey.CodeRateLimited, latchkey.CodeUsageExceeded:
		if nginx {
			return denyGateway(w, http.StatusForbidden, string(res.Code), denyDetail[res.Code])
		}
		if res.RateLimit != nil && res.Code == latchkey.CodeRateLimited {
			w.Header().Set("Retry-After", strconv.FormatInt(max(int64((res.RateLimit.ResetAt.Sub(now)+time.Second-1)/time.Second), 1), 10))
		}
		return denyGateway(w, http.StatusTooManyRequests, string(res.Code), denyDetail[res.Code])
	default: // revoked, expired, disabled, permissions, devices
		return denyGateway(w, http.StatusForbidden, string(res.Code), denyDetail[res.Code])
	}
}

// originalRequest is the request the gateway holds, as the gateway tells
// it: the method from X-Forwarded-Method (Traefik, Caddy), else
// X-Original-Method (nginx), else this request's own; the URI from
// X-Forwarded-Uri, else X-Original-URI, else this request's path after
// /v1/authorize (Envoy appends the original path there). Each is read on
// its own, so a gateway that forwards only the URI keeps its method.
func originalRequest(r *http.Request) (method, uri string) {
	method = firstHeader(r.Header, "X-Forwarded-Method", "X-Original-Method")
	if method == "" {
		method = r.Method
	}
	uri = firstHeader(r.Header, "X-Forwarded-Uri", "X-Original-Uri")
	if uri == "" {
		uri = "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/authorize"), "/")
	}
	return method, uri
}

// firstHeader is the first non-blank value of the named headers, trimmed.
func firstHeader(h http.Header, names ...string) string {
	for _, name := range names {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			return v
		}
	}
	return ""
}

// maxLoggedPath bounds the original path a log line carries.
const maxLoggedPath = 256

// logAuthorize records at debug what a gateway asked about: the original
// request's method and path (never its query, where a caller may have put
// a secret), the key and the outcome. The work is skipped unless debug is
// on, so the answer costs what a verify costs.
func (s *Server) logAuthorize(r *http.Request, req *latchkey.VerifyRequest, keyID int64, code string) {
	if !s.logger.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	method, path := req.Method, req.Path // the original request, its query already left out
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "…"
	}
	s.logger.Debug("gateway authorize", "method", strings.ToValidUTF8(method, "\uFFFD"), "path", strings.ToValidUTF8(path, "\uFFFD"),
		"key_id", keyID, "code", code)
}

// denyDetail says each refusal in words, for the problem body.
var denyDetail = map[latchkey.VerifyCode]string{
	latchkey.CodeNotFound:               "the API key is not known",
	latchkey.CodeRevoked:                "the API key was revoked",
	latchkey.CodeExpired:                "the API key has expired",
	latchkey.CodeDisabled:               "the API key is disabled",
	latchkey.CodeInsufficientPermission: "the API key lacks a permission this route needs",
	latchkey.CodeDeviceLimitExceeded:    "the API key is used on too many devices",
	latchkey.CodeRateLimited:            "the API key's rate limit is reached; try again later",
	latchkey.CodeUsageExceeded:          "the API key has no credits left",
}

// authorizeKey finds the end user's key: in the header named (its Bearer
// token if that is Authorization), else Authorization: Bearer, else
// X-API-Key.
func authorizeKey(r *http.Request, header string) string {
	if header != "" && !strings.EqualFold(header, "Authorization") {
		return strings.TrimSpace(r.Header.Get(header))
	}
	if tok, ok := auth.ParseBearer(r.Header.Get("Authorization")); ok {
		return tok
	}
	if header != "" {
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// writeRateLimitHeaders writes the IETF draft-10 RateLimit-Policy and
// RateLimit headers of a verification's window.
func writeRateLimitHeaders(h http.Header, rl *latchkey.RateLimitState, now time.Time) {
	policy := `"default";q=` + strconv.FormatInt(rl.Limit, 10)
	if rl.WindowSeconds > 0 {
		policy += ";w=" + strconv.FormatInt(rl.WindowSeconds, 10)
	}
	h.Set("RateLimit-Policy", policy)
	t := max(int64((rl.ResetAt.Sub(now)+time.Second-1)/time.Second), 0)
	h.Set("RateLimit", `"default";r=`+strconv.FormatInt(rl.Remaining, 10)+";t="+strconv.FormatInt(t, 10))
}

// denyGateway answers a refusal with the code in X-Latchkey-Code and a
// small problem+json body saying it.
func denyGateway(w http.ResponseWriter, status int, code, detail string) error {
	w.Header().Set("X-Latchkey-Code", code)
	writeJSONType(w, status, "application/problem+json", Problem{
		Type: "https://latchkey.dev/problems/" + strings.ToLower(code), Title: http.StatusText(status),
		Status: status, Detail: detail, Code: code,
	})
	return nil
}

// gatewayMisconfigured answers 500 for a query the gateway's configuration
// got wrong, so that it fails closed and visibly, and logs why.
func (s *Server) gatewayMisconfigured(w http.ResponseWriter, why string) error {
	s.logGateway(why)
	return denyGateway(w, http.StatusInternalServerError, "MISCONFIGURED", "the gateway's configuration is wrong: "+why)
}

// logGateway logs why a gateway's request was refused, never its root key,
// at most once per outageLogEvery: a gateway set up wrong asks on every
// request.
func (s *Server) logGateway(why string) {
	s.outageMu.Lock()
	now := time.Now()
	logIt := now.Sub(s.gatewayLogged) >= outageLogEvery
	if logIt {
		s.gatewayLogged = now
	}
	s.outageMu.Unlock()
	if logIt {
		s.logger.Warn("gateway authorize request refused: the gateway is set up wrong", "detail", why)
	}
}
