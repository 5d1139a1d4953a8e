package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// Seed 003 — PUT /api/admin/api-tokens/{token}, the Unleash admin API.
// {token} is the secret itself, looked up by its hash in the caller's
// account; the body {"expiresAt": date-time} sets the key's expiry. The
// caller is a root key holding keys:write, as "Bearer <key>" or the bare
// key in Authorization, or the access token of an account admin. Checks,
// first failure wins, with Unleash's error bodies:
//
//	400 BadDataError             a NUL byte or invalid UTF-8 in the path
//	                             (the token), query or X-Account-ID
//	401 AuthenticationRequired   no Authorization header
//	401 UnauthorizedError        an unknown, revoked, expired or disabled credential
//	403 {"message": ...}         an api key (Unleash's answer to a token of the wrong type)
//	403 PermissionError          no keys:write (a member, a read-only root key)
//	415 ContentTypeError         a body whose Content-Type is not
//	                             application/json, or that has none
//	413 ContentTooLarge          a body over 64 KiB
//	400 BadDataError             a NUL byte or invalid UTF-8 in any body field
//	400 BadDataError             expiresAt missing or not a date-time
//	                             Unleash takes (see unleashDateTime)
//
// then a token the account does not know answers 200 with no body and
// changes nothing; a root key's token needs account:admin and may not be
// the caller's own (403 OperationDeniedError); a known one gets the new
// expiry: 200, no body. A store that cannot be reached answers 503 with
// Retry-After, in Unleash's error shape.

// handleUnleashExpiryPut is PUT /api/admin/api-tokens/{token}: the checks
// in Unleash's order (see the comment at the top of this file), then the
// new expiry.
func (s *Surfaces) handleUnleashExpiryPut(w http.ResponseWriter, r *http.Request) replier {
	p, expiresAt, f := callerAndBody(unleash, w, r, s.unleashWriter, decodeUnleashExpiry)
	if f != nil {
		return f
	}
	return s.unleashChangeToken(r, p, r.PathValue("token"), "A root key cannot change its own expiry. Use another root key or the operator.",
		func(ctx context.Context, k *latchkey.Key) error {
			_, err := s.Keys.UpdateKey(ctx, p.AccountID, k.ID, &latchkey.KeyUpdate{ExpiresAt: latchkey.Some(expiresAt)})
			return err
		},
		func(err error) replier {
			return unleashBadData(unleashDetail{Path: "expiresAt", Message: latchkey.ErrorMessage(err)})
		})
}

// unleashRootKeyGuard refuses what the native API refuses (see
// auth.Principal.GuardKeyChange): a root key's change to its own expiry
// (it could lock the account out) and a change to a root key's expiry by
// a principal without account:admin (keys:write alone must not end or
// revive root credentials). Unleash answers the like with its
// OperationDeniedError.
func unleashRootKeyGuard(p *auth.Principal, k *latchkey.Key, self string) replier {
	err := p.GuardKeyChange(k.ID, false, func() (latchkey.KeyKind, error) { return k.Kind, nil })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrSelfLockout):
		return newUnleashError(http.StatusForbidden, "OperationDeniedError", self)
	}
	return newUnleashError(http.StatusForbidden, "OperationDeniedError",
		fmt.Sprintf("You do not have the required access [%s] to perform this operation", latchkey.PermAccountAdmin))
}

// unleashPrincipal authenticates the Authorization header: "Bearer <x>" or
// the bare <x>, where x is a user access token or a root key.
func (s *Surfaces) unleashPrincipal(r *http.Request) (*auth.Principal, replier) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return nil, unleashAuthRequired()
	}
	token := h
	if t, ok := auth.ParseBearer(h); ok {
		token = t
	}
	var p *auth.Principal
	var err error
	noAccess := "A root key acts only on its own account."
	if auth.IsAccessToken(token) {
		p, err = s.Auth.UserSession(r, token)
		noAccess = "You are not a member of this account."
	} else {
		p, err = s.Auth.RootKey(r, token)
	}
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, auth.ErrAPIKeyRefused):
		return nil, unleashTokenType()
	}
	switch latchkey.ErrorCode(err) {
	case latchkey.EUNAUTHORIZED:
		return nil, unleashUnauthorized()
	case latchkey.EFORBIDDEN:
		return nil, newUnleashError(http.StatusForbidden, "NoAccessError", noAccess)
	case latchkey.EINVALID:
		return nil, unleashBadDataMessage("X-Account-ID names no account.")
	}
	return nil, s.failure(unleash, err)
}

// decodeUnleashExpiry reads updateApiTokenSchema: an object whose expiresAt
// is a date-time string. Other members are allowed and ignored; an empty
// body is an empty object.
func decodeUnleashExpiry(b []byte) (time.Time, replier) {
	m, f := unleashObject(b)
	if f != nil {
		return time.Time{}, f
	}
	raw, ok := m["expiresAt"]
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: "The `expiresAt` property is required. It was not present on the data you sent."})
	}
	v, ok := asString(raw)
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: "The `expiresAt` property must be string. You sent " + echo(raw) + "."})
	}
	t, ok := unleashTime(v)
	if !ok {
		return time.Time{}, unleashBadData(unleashDetail{Path: "expiresAt",
			Message: `The ` + "`expiresAt`" + ` property must match format "date-time". You sent ` + echo(raw) + "."})
	}
	return t, nil
}

// unleashObject reads a body that must be a JSON object (an empty body is
// an empty one) and returns its members.
func unleashObject(b []byte) (map[string]json.RawMessage, replier) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	m, err := parseObject(b)
	if errors.Is(err, errNotObject) {
		return nil, unleashBadData(unleashDetail{Message: "The request body must be object. You sent " + echo(b) + "."})
	} else if err != nil {
		return nil, unleashBadDataMessage("The request body is not valid JSON.")
	}
	return m, nil
}

// unleashDateTime is the date-time Unleash accepts: an RFC 3339 date and
// time of day, the two parted by T, t or a space, with an optional
// fraction, and an offset that is Z or z, ±hh:mm or ±hhmm, or absent (UTC).
var unleashDateTime = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(?:([Zz])|([+-]\d{2}):?(\d{2}))?$`)

// unleashTime parses a date-time as Unleash does (see unleashDateTime)
// and returns it in UTC.
func unleashTime(s string) (time.Time, bool) {
	m := unleashDateTime.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, false
	}
	offset := "Z"
	if m[4] != "" {
		offset = m[4] + ":" + m[5]
	}
	return asTime(m[1] + "T" + m[2] + offset)
}
