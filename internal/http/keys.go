package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// keyWithSecret is a key as returned by create and rotate: the only two
// answers that ever carry a secret.
type keyWithSecret struct {
	*latchkey.Key
	Secret string `json:"secret"`
}

// readOnlyKeyFields are key fields a request may not set.
var readOnlyKeyFields = []string{"id", "account_id", "status", "start", "created_at", "updated_at",
	"created_ip", "user_agent", "last_used_at", "revoked_at", "revoked_reason", "secret"}

// decodeKeyCreate decodes a create body field by field: every field of
// latchkey.KeyCreate by its JSON name, where null means the same as
// absent (the default).
func decodeKeyCreate(b []byte) (*latchkey.KeyCreate, error) {
	c := &latchkey.KeyCreate{}
	specs := nullableFields(c)
	for _, f := range readOnlyKeyFields {
		specs[f] = fieldSpec{readOnly: true}
	}
	if _, err := decodeFields(b, specs); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeKeyUpdate decodes a JSON merge patch of a key field by field.
func decodeKeyUpdate(b []byte) (*latchkey.KeyUpdate, error) {
	u := &latchkey.KeyUpdate{}
	specs := map[string]fieldSpec{
		"name":        {target: &u.Name},
		"description": {target: &u.Description},
		"owner_email": {target: &u.OwnerEmail, nullable: true},
		"owner_name":  {target: &u.OwnerName, nullable: true},
		"owner_phone": {target: &u.OwnerPhone, nullable: true},
		"enabled":     {target: &u.Enabled},
		"expires_at":  {target: &u.ExpiresAt, nullable: true},
		"permissions": {target: &u.Permissions},
		"rate_limit":  {target: &u.RateLimit, nullable: true},
		"max_devices": {target: &u.MaxDevices},
		"credits":     {target: &u.Credits, nullable: true},
		"meta":        {target: &u.Meta, nullable: true},
		"kind":        {readOnly: true},
	}
	for _, f := range readOnlyKeyFields {
		specs[f] = fieldSpec{readOnly: true}
	}
	if _, err := decodeFields(b, specs); err != nil {
		return nil, err
	}
	return u, nil
}

// guardRootKey refuses a mutation of key id that the principal may not make
// (see auth.Principal.GuardKeyChange), loading the key only when its kind
// decides.
func (s *Server) guardRootKey(r *http.Request, id int64, selfSafe bool) error {
	p := principalFrom(r.Context())
	return p.GuardKeyChange(id, selfSafe, func() (latchkey.KeyKind, error) {
		k, err := s.Keys.FindKeyByID(r.Context(), p.AccountID, id)
		if err != nil {
			return "", err
		}
		return k.Kind, nil
	})
}

// handleCreateKey is POST /v1/keys: 201 with the key and its secret,
// shown this once; a root key needs account:admin.
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) error {
	return serve(w, r, http.StatusCreated, fieldsBody(decodeKeyCreate), func(c *latchkey.KeyCreate) (any, error) {
		p := principalFrom(r.Context())
		if c.Kind == latchkey.KindRoot && !p.Can(latchkey.PermAccountAdmin) {
			return nil, auth.ErrRootNeedsAdmin
		}
		k, secret, err := s.Keys.CreateKey(r.Context(), p.AccountID, c)
		if err != nil {
			return nil, err
		}
		w.Header().Set("Location", "/v1/keys/"+strconv.FormatInt(k.ID, 10))
		return keyWithSecret{Key: k, Secret: secret}, nil
	})
}

// handleGetKey is GET /v1/keys/{id}; GET /v1/keys/verify is a 405 (verify
// takes POST), not a bad id.
func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "verify" {
		w.Header().Set("Allow", "POST")
		return &latchkey.Error{Code: EMETHOD, Message: "verify takes POST"}
	}
	return serveKey(s, w, r, readKey, noBody, func(ctx context.Context, accountID, id int64, _ struct{}) (any, error) {
		return s.Keys.FindKeyByID(ctx, accountID, id)
	})
}

// handleListKeys is GET /v1/keys: a page of the account's keys, filtered
// by owner_email, status, kind and q.
func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "owner_email", "status", "kind", "q", "limit", "cursor")
	if err != nil {
		return err
	}
	f := latchkey.KeyFilter{AccountID: accountOf(r), Cursor: q.Get("cursor")}
	if v := q.Get("owner_email"); v != "" {
		f.OwnerEmail = &v
	}
	if v := q.Get("status"); v != "" {
		st := latchkey.Status(v)
		if !st.Valid() {
			return latchkey.FieldError("status", "must be one of active, disabled, expired, revoked")
		}
		f.Status = &st
	}
	if v := q.Get("kind"); v != "" {
		k := latchkey.KeyKind(v)
		if !k.Valid() {
			return latchkey.FieldError("kind", "must be api or root")
		}
		f.Kind = &k
	}
	if v := q.Get("q"); v != "" {
		f.Query = &v
	}
	if f.Limit, err = queryLimit(q); err != nil {
		return err
	}
	keys, next, err := s.Keys.FindKeys(r.Context(), f)
	return reply(w, http.StatusOK, newPage(keys, next), err)
}

// handleUpdateKey is PATCH /v1/keys/{id}, a JSON merge patch; an empty
// patch answers the key unchanged.
func (s *Server) handleUpdateKey(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, changeKey, fieldsBody(decodeKeyUpdate), func(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (any, error) {
		if u.Empty() {
			return s.Keys.FindKeyByID(ctx, accountID, id)
		}
		return s.Keys.UpdateKey(ctx, accountID, id, u)
	})
}

// handleDeleteKey is DELETE /v1/keys/{id}: 204.
func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, changeKey, noBody, func(ctx context.Context, accountID, id int64, _ struct{}) (any, error) {
		return nil, s.Keys.DeleteKey(ctx, accountID, id)
	})
}

// revokeRequest is the body of POST /v1/keys/{id}/revoke.
type revokeRequest struct {
	Reason string `json:"reason"`
}

// handleRevokeKey is POST /v1/keys/{id}/revoke {reason}.
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, changeKey, jsonBody[revokeRequest](true), func(ctx context.Context, accountID, id int64, body revokeRequest) (any, error) {
		if err := latchkey.ValidateReason(body.Reason); err != nil {
			return nil, err
		}
		return s.Keys.RevokeKey(ctx, accountID, id, body.Reason)
	})
}

// maxGrace bounds a rotation's grace period.
const maxGrace = 30 * 24 * time.Hour

// rotateRequest is the body of POST /v1/keys/{id}/rotate.
type rotateRequest struct {
	GraceSeconds int64 `json:"grace_seconds"`
}

// handleRotateKey is POST /v1/keys/{id}/rotate {grace_seconds}: a new
// secret, shown this once; the old one lives out the grace.
func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, changeKeySafely, jsonBody[rotateRequest](true), func(ctx context.Context, accountID, id int64, body rotateRequest) (any, error) {
		if body.GraceSeconds < 0 || body.GraceSeconds > int64(maxGrace/time.Second) {
			return nil, latchkey.FieldError("grace_seconds", "must be from 0 to %d (30 days)", int64(maxGrace/time.Second))
		}
		k, secret, err := s.Keys.RotateKey(ctx, accountID, id, time.Duration(body.GraceSeconds)*time.Second)
		if err != nil {
			return nil, err
		}
		return keyWithSecret{Key: k, Secret: secret}, nil
	})
}

// handleListDevices is GET /v1/keys/{id}/devices.
func (s *Server) handleListDevices(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, readKey, noBody, func(ctx context.Context, accountID, id int64, _ struct{}) (any, error) {
		devices, err := s.Keys.FindDevices(ctx, accountID, id)
		return newPage(devices, ""), err
	})
}

// handleDeleteDevice is DELETE /v1/keys/{id}/devices/{device_id}: 204; a
// root key may forget its own devices.
func (s *Server) handleDeleteDevice(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, changeKeySafely, noBody, func(ctx context.Context, accountID, id int64, _ struct{}) (any, error) {
		device := r.PathValue("device_id")
		if err := latchkey.ValidateDeviceID(device); err != nil {
			return nil, err
		}
		return nil, s.Keys.DeleteDevice(ctx, accountID, id, device)
	})
}

// handleUsage is GET /v1/keys/{id}/usage: verification counts by outcome
// in minute, hour or day buckets over [since, until).
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) error {
	return serveKey(s, w, r, readKey, noBody, func(ctx context.Context, accountID, id int64, _ struct{}) (any, error) {
		f, err := s.usageFilter(r)
		if err != nil {
			return nil, err
		}
		buckets, err := s.Keys.FindUsage(ctx, accountID, id, f)
		return newPage(buckets, ""), err
	})
}

// usageFilter reads a usage query: bucket (minute, hour, day), since and
// until, resolved to the defaults and bounds of latchkey.UsageFilter.
func (s *Server) usageFilter(r *http.Request) (latchkey.UsageFilter, error) {
	f := latchkey.UsageFilter{Bucket: time.Hour}
	q, err := parseQuery(r, "bucket", "since", "until")
	if err != nil {
		return f, err
	}
	switch q.Get("bucket") {
	case "", "hour":
	case "minute":
		f.Bucket = time.Minute
	case "day":
		f.Bucket = 24 * time.Hour
	default:
		return f, latchkey.FieldError("bucket", "must be minute, hour or day")
	}
	if f.Since, err = queryTime(q, "since", time.Time{}); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(q, "until", time.Time{}); err != nil {
		return f, err
	}
	return f.Resolve(s.now())
}
