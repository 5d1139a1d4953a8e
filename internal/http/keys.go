package http

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

// page is a list answer with the cursor of the next page (null at the end).
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func newPage[T any](data []T, cursor string) page[T] {
	if data == nil {
		data = []T{}
	}
	p := page[T]{Data: data}
	if cursor != "" {
		p.NextCursor = &cursor
	}
	return p
}

// readOnlyKeyFields are key fields a request may not set.
var readOnlyKeyFields = []string{"id", "account_id", "status", "start", "created_at", "updated_at",
	"created_ip", "user_agent", "last_used_at", "revoked_at", "revoked_reason", "secret"}

// decodeKeyCreate decodes a create body field by field.
func decodeKeyCreate(b []byte) (*latchkey.KeyCreate, error) {
	c := &latchkey.KeyCreate{}
	// On create, null means the same as absent: the default.
	specs := map[string]fieldSpec{
		"kind":        {target: &c.Kind, nullable: true},
		"name":        {target: &c.Name, nullable: true},
		"description": {target: &c.Description, nullable: true},
		"owner_email": {target: &c.OwnerEmail, nullable: true},
		"owner_name":  {target: &c.OwnerName, nullable: true},
		"owner_phone": {target: &c.OwnerPhone, nullable: true},
		"enabled":     {target: &c.Enabled, nullable: true},
		"expires_at":  {target: &c.ExpiresAt, nullable: true},
		"permissions": {target: &c.Permissions, nullable: true},
		"rate_limit":  {target: &c.RateLimit, nullable: true},
		"max_devices": {target: &c.MaxDevices, nullable: true},
		"credits":     {target: &c.Credits, nullable: true},
		"meta":        {target: &c.Meta, nullable: true},
	}
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

// pathID parses a positive integer path value.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, latchkey.FieldError(name, "must be a positive integer")
	}
	return id, nil
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	c, err := decodeKeyCreate(b)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if c.Kind == latchkey.KindRoot && !p.Can(latchkey.PermAccountAdmin) {
		return auth.ErrRootNeedsAdmin
	}
	k, secret, err := s.Keys.CreateKey(r.Context(), p.AccountID, c)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/keys/"+strconv.FormatInt(k.ID, 10))
	writeJSON(w, http.StatusCreated, keyWithSecret{Key: k, Secret: secret})
	return nil
}

func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "verify" {
		w.Header().Set("Allow", "POST")
		return &latchkey.Error{Code: EMETHOD, Message: "verify takes POST"}
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	k, err := s.Keys.FindKeyByID(r.Context(), principalFrom(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, "owner_email", "status", "kind", "q", "limit", "cursor")
	if err != nil {
		return err
	}
	f := latchkey.KeyFilter{AccountID: principalFrom(r.Context()).AccountID, Cursor: q.Get("cursor")}
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
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	f.Limit = limit
	keys, next, err := s.Keys.FindKeys(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(keys, next))
	return nil
}

// parseQuery parses the request's query string and refuses a parameter
// the route does not take, so a typo (?stauts=active) is a 400 naming it
// instead of a silently unfiltered answer.
func parseQuery(r *http.Request, known ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, latchkey.FieldError("query", "is not a valid query string: %v", err)
	}
	for name := range q {
		if !slices.Contains(known, name) {
			return nil, latchkey.FieldError(name, "is not a parameter of this route (it takes %s)", strings.Join(known, ", "))
		}
	}
	return q, nil
}

// queryLimit parses the limit query parameter (1..1000; absent is 0, the
// store's default).
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, latchkey.FieldError("limit", "must be an integer from 1 to 1000")
	}
	return n, nil
}

func (s *Server) handleUpdateKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.guardRootKey(r, id, false); err != nil {
		return err
	}
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	u, err := decodeKeyUpdate(b)
	if err != nil {
		return err
	}
	accountID := principalFrom(r.Context()).AccountID
	var k *latchkey.Key
	if u.Empty() {
		k, err = s.Keys.FindKeyByID(r.Context(), accountID, id)
	} else {
		k, err = s.Keys.UpdateKey(r.Context(), accountID, id, u)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) handleDeleteKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.guardRootKey(r, id, false); err != nil {
		return err
	}
	if err := s.Keys.DeleteKey(r.Context(), principalFrom(r.Context()).AccountID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.guardRootKey(r, id, false); err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	if err := latchkey.ValidateReason(body.Reason); err != nil {
		return err
	}
	k, err := s.Keys.RevokeKey(r.Context(), principalFrom(r.Context()).AccountID, id, body.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

// maxGrace bounds a rotation's grace period.
const maxGrace = 30 * 24 * time.Hour

func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.guardRootKey(r, id, true); err != nil {
		return err
	}
	var body struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	if body.GraceSeconds < 0 || body.GraceSeconds > int64(maxGrace/time.Second) {
		return latchkey.FieldError("grace_seconds", "must be from 0 to %d (30 days)", int64(maxGrace/time.Second))
	}
	k, secret, err := s.Keys.RotateKey(r.Context(), principalFrom(r.Context()).AccountID, id, time.Duration(body.GraceSeconds)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyWithSecret{Key: k, Secret: secret})
	return nil
}

func (s *Server) handleListDevices(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	devices, err := s.Keys.FindDevices(r.Context(), principalFrom(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(devices, ""))
	return nil
}

func (s *Server) handleDeleteDevice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.guardRootKey(r, id, true); err != nil {
		return err
	}
	device := r.PathValue("device_id")
	if err := latchkey.ValidateDeviceID(device); err != nil {
		return err
	}
	if err := s.Keys.DeleteDevice(r.Context(), principalFrom(r.Context()).AccountID, id, device); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := parseQuery(r, "bucket", "since", "until")
	if err != nil {
		return err
	}
	f := latchkey.UsageFilter{Bucket: time.Hour}
	switch q.Get("bucket") {
	case "", "hour":
	case "minute":
		f.Bucket = time.Minute
	case "day":
		f.Bucket = 24 * time.Hour
	default:
		return latchkey.FieldError("bucket", "must be minute, hour or day")
	}
	if f.Since, err = queryTime(q, "since", time.Time{}); err != nil {
		return err
	}
	if f.Until, err = queryTime(q, "until", time.Time{}); err != nil {
		return err
	}
	if f, err = f.Resolve(s.now()); err != nil {
		return err
	}
	buckets, err := s.Keys.FindUsage(r.Context(), principalFrom(r.Context()).AccountID, id, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(buckets, ""))
	return nil
}

// queryTime parses an RFC 3339 query parameter, or returns def.
func queryTime(q url.Values, name string, def time.Time) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, latchkey.FieldError(name, "must be an RFC 3339 time like 2027-01-01T00:00:00Z")
	}
	return t.UTC(), nil
}
