// Package http serves Latchkey's native JSON API: key management, the
// verify hot path, permissions, accounts and users, sign-in routes, audit,
// health, metrics and the OpenAPI document, in one routes table. Who is
// calling is decided by internal/http/auth; the seed surfaces it serves
// beside the native API (internal/http/compat) are handed to it as
// Surfaces. It talks to the domain only through the root package's
// interfaces.
package http

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// Server holds the services the API is served from. Set the fields, then
// call Handler.
type Server struct {
	Keys        latchkey.KeyService
	Permissions latchkey.PermissionService
	Audit       latchkey.AuditService
	Accounts    latchkey.AccountService
	Verifier    latchkey.Verifier
	Users       latchkey.UserService
	// Auth decides who is calling (operator, user session, root key),
	// signs users in and resolves client addresses. Nil authenticates root
	// keys only, by Verifier and Accounts: no operator, no sign-in.
	Auth *auth.Authenticator

	// Checks are what /readyz reports on, each by name: the store, Redis,
	// the change feed.
	Checks []Check
	// Feed, when set, reports the change feed's state for /metrics.
	Feed func() latchkey.FeedStatus
	// RedisUp, when set, reports whether Redis answers, for /metrics.
	RedisUp func() bool
	Logger  *slog.Logger
	Clock   latchkey.Clock

	// Surfaces are extra route sets served beside the native API (the seed
	// surfaces of internal/http/compat, the web UI of internal/http/ui),
	// each rendering its own envelope.
	Surfaces []Surface
	// UIPath, when set, is where a browser opening the server's root is
	// sent (the web UI's first page).
	UIPath string

	logger  *slog.Logger
	clock   latchkey.Clock
	metrics *serverMetrics

	outageMu       sync.Mutex // guards the three below; see logError
	outageLogged   time.Time
	outageUnlogged int
	gatewayLogged  time.Time // see gatewayMisconfigured
}

// Surface is a set of routes with their own auth and error envelope,
// served beside the native API (internal/http/compat's seed surfaces).
type Surface interface {
	Routes() []httpx.Route
}

// route is one entry of the API's single routing table.
type route struct {
	method  string
	pattern string
	perm    string // root-key permission required; "" means public
	summary string
	h       handlerFunc
}

// routes lists every native route in one place.
func (s *Server) routes() []route {
	return []route{
		{"POST", "/v1/keys/verify", latchkey.PermKeysVerify, "Verify a key", s.handleVerify},
		{"POST", "/v1/keys", latchkey.PermKeysWrite, "Create a key", s.handleCreateKey},
		{"GET", "/v1/keys", latchkey.PermKeysRead, "List keys", s.handleListKeys},
		{"GET", "/v1/keys/{id}", latchkey.PermKeysRead, "Read a key", s.handleGetKey},
		{"PATCH", "/v1/keys/{id}", latchkey.PermKeysWrite, "Update a key (JSON merge patch)", s.handleUpdateKey},
		{"DELETE", "/v1/keys/{id}", latchkey.PermKeysWrite, "Delete a key", s.handleDeleteKey},
		{"POST", "/v1/keys/{id}/revoke", latchkey.PermKeysWrite, "Revoke a key", s.handleRevokeKey},
		{"POST", "/v1/keys/{id}/rotate", latchkey.PermKeysWrite, "Rotate a key's secret", s.handleRotateKey},
		{"GET", "/v1/keys/{id}/devices", latchkey.PermKeysRead, "List a key's devices", s.handleListDevices},
		{"DELETE", "/v1/keys/{id}/devices/{device_id}", latchkey.PermKeysWrite, "Remove a device", s.handleDeleteDevice},
		{"GET", "/v1/keys/{id}/usage", latchkey.PermKeysRead, "Verification counts over time", s.handleUsage},
		{"GET", "/v1/permissions", latchkey.PermKeysRead, "List the permission catalogue", s.handleListPermissions},
		{"POST", "/v1/permissions", latchkey.PermAccountAdmin, "Add a permission", s.handleCreatePermission},
		{"DELETE", "/v1/permissions/{name}", latchkey.PermAccountAdmin, "Remove a permission", s.handleDeletePermission},
		{"GET", "/v1/audit", latchkey.PermAuditRead, "Read the audit log", s.handleAudit},
		{"GET", "/v1/accounts", permAuthenticated, "List the accounts the caller can reach", s.handleListAccounts},
		{"POST", "/v1/accounts", permOperator, "Create an account (operator only)", s.handleCreateAccount},
		{"GET", "/v1/users", latchkey.PermAccountAdmin, "List the account's users and roles", s.handleListUsers},
		{"POST", "/v1/users", latchkey.PermAccountAdmin, "Create a user in the account", s.handleCreateUser},
		{"PUT", "/v1/accounts/{id}/members/{user_id}", latchkey.PermAccountAdmin, "Give a user a role in the account", s.handleSetMember},
		{"DELETE", "/v1/accounts/{id}/members/{user_id}", latchkey.PermAccountAdmin, "Remove a user from the account", s.handleRemoveMember},
		{"PATCH", "/v1/users/{id}", permAuthenticated, "Rename, deactivate or reset a user", s.handleUpdateUser},
		{"POST", "/v1/auth/login", "", "Sign in with email and password", s.handleLogin},
		{"POST", "/v1/auth/refresh", "", "Rotate the refresh token for a new access token", s.handleRefresh},
		{"POST", "/v1/auth/logout", permAuthenticated, "End the session family", s.handleLogout},
		{"GET", "/v1/auth/csrf", permAuthenticated, "The session's CSRF token", s.handleCSRF},
		{"POST", "/v1/auth/password", permAuthenticated, "Change your own password", s.handleChangePassword},
		{"GET", "/healthz", "", "Liveness", s.handleHealthz},
		{"GET", "/readyz", "", "Readiness: the store, Redis and the change feed, each reported", s.handleReadyz},
		{"GET", "/openapi.json", "", "This API's OpenAPI 3.1 document", s.handleOpenAPI},
	}
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.clock = s.Clock
	if s.clock == nil {
		s.clock = latchkey.SystemClock
	}
	if s.Auth == nil {
		s.Auth = &auth.Authenticator{Verifier: s.Verifier, Accounts: s.Accounts, Users: s.Users, Clock: s.Clock}
	}
	s.metrics = newMetrics(s.Feed, s.RedisUp)

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		h := rt.h
		if rt.perm != "" {
			h = s.authenticate(rt.perm, h)
		}
		h = refuseBadStrings(rt.pattern, h) // before authentication: see input.go
		mux.Handle(rt.method+" "+rt.pattern, s.metrics.instrument(rt.pattern, s.adapt(h, renderProblem)))
	}
	for _, sf := range s.Surfaces {
		for _, rt := range sf.Routes() {
			mux.Handle(rt.Method+" "+rt.Pattern, s.metrics.instrument(rt.Pattern, s.recoverer(s.refuseBadStringsIn(rt.Pattern, rt.Handler))))
		}
	}
	// The gateway endpoint answers every method: a gateway asks with the
	// method of the request it holds (authorize.go).
	authorize := s.metrics.instrument("/v1/authorize", s.adapt(refuseBadStrings("/v1/authorize/{path...}", s.handleAuthorize), renderProblem))
	mux.Handle("/v1/authorize", authorize)
	mux.Handle("/v1/authorize/{path...}", authorize)
	mux.Handle("GET /metrics", s.refuseBadStringsIn("/metrics", s.metrics.handler()))
	mux.Handle("/v1/", s.adapt(refuseBadStrings("/v1/", func(w http.ResponseWriter, r *http.Request) error {
		return noRoute(mux, w, r)
	}), renderProblem))
	mux.Handle("GET /{$}", s.refuseBadStringsIn("/", http.HandlerFunc(s.handleIndex)))
	return s.Auth.WithClientIP(mux)
}

// noRoute answers a /v1/ request no route matched: 405 with Allow when the
// path exists under another method, else 404, both as problem+json.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &latchkey.Error{Code: EMETHOD, Message: r.Method + " is not allowed here; use " + strings.Join(allow, ", ")}
	}
	return latchkey.Errorf(latchkey.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path)
}

func (s *Server) now() time.Time { return s.clock() }
