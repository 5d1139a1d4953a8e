package compat

import (
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file holds the rest of the WhatsApp gateway's admin key resource,
// so its admin client can manage keys as it does against the product. The
// operator (X-Admin-Secret) calls, each in the {status, code, message,
// data} envelope:
//
//	POST   /admin/api-keys       {customer_name, customer_email, customer_phone,
//	                             max_devices, rate_limit_per_hour}, all required:
//	                             201, data: the key with api_key, shown this once
//	GET    /admin/api-keys       200, data: [key], each with device_count
//	GET    /admin/api-keys/{id}  200, data: the key with device_count and devices
//	DELETE /admin/api-keys/{id}  200, the key, its devices and usage gone
//
// A listed or read key carries api_key_masked, never the key itself.
// Deliberate difference: the mask is the key's start ("lk_Ab3x..."), where
// the product shows its first 8 and last 4 characters; Latchkey keeps
// only a hash of the rest.

// whatsAppKey is a key as the product shows it.
type whatsAppKey struct {
	ID               int64             `json:"id"`
	APIKey           string            `json:"api_key,omitempty"`
	APIKeyMasked     string            `json:"api_key_masked,omitempty"`
	CustomerName     string            `json:"customer_name"`
	CustomerEmail    string            `json:"customer_email"`
	CustomerPhone    string            `json:"customer_phone"`
	MaxDevices       int64             `json:"max_devices"`
	RateLimitPerHour int64             `json:"rate_limit_per_hour"`
	IsActive         bool              `json:"is_active"`
	DeviceCount      *int              `json:"device_count,omitempty"`
	Devices          *[]whatsAppDevice `json:"devices,omitempty"` // on a read, not in a list
	CreatedAt        *time.Time        `json:"created_at,omitempty"`
	UpdatedAt        *time.Time        `json:"updated_at,omitempty"`
}

// whatsAppDevice is one device a key has been seen with.
type whatsAppDevice struct {
	DeviceID  string    `json:"device_id"`
	CreatedAt time.Time `json:"created_at"`
}

// newWhatsAppKey shows a key without its secret.
func newWhatsAppKey(k *latchkey.Key) whatsAppKey {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out := whatsAppKey{ID: k.ID, APIKeyMasked: k.Start + "...", CustomerName: k.Name, CustomerEmail: deref(k.OwnerEmail),
		CustomerPhone: deref(k.OwnerPhone), MaxDevices: k.MaxDevices, IsActive: k.Enabled && k.RevokedAt == nil}
	if k.OwnerName != nil {
		out.CustomerName = *k.OwnerName
	}
	if k.RateLimit != nil {
		out.RateLimitPerHour = k.RateLimit.Limit * 3600 / max(k.RateLimit.WindowSeconds, 1)
	}
	return out
}

// whatsAppData is a success in the envelope.
func whatsAppData(status int, message string, data any) replier {
	return jsonAnswer(status, whatsAppEnvelope{Status: true, Code: status, Message: message, Data: data})
}

// handleWhatsAppCreate is POST /admin/api-keys.
func (s *Surfaces) handleWhatsAppCreate(w http.ResponseWriter, r *http.Request) replier {
	p, c, e := callerAndBody(whatsApp, w, r, s.whatsAppPrincipal, decodeWhatsAppCreate)
	if e != nil {
		return e
	}
	k, secret, err := s.Keys.CreateKey(actorContext(r, p), p.AccountID, c)
	if e := s.outcome(whatsApp, err, nil, func(err error) replier { return badWhatsApp(whatsAppFieldError(err)) }); e != nil {
		return e
	}
	out := newWhatsAppKey(k)
	out.APIKey, out.APIKeyMasked = secret, ""
	return whatsAppData(http.StatusCreated, "API key created successfully", out)
}

// decodeWhatsAppCreate reads the five required fields into a key to
// create. Unknown fields are ignored.
func decodeWhatsAppCreate(b []byte) (*latchkey.KeyCreate, replier) {
	m, e := whatsAppObject(b)
	if e != nil {
		return nil, e
	}
	c := &latchkey.KeyCreate{Kind: latchkey.KindAPI}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"customer_name", &c.OwnerName}, {"customer_email", &c.OwnerEmail}, {"customer_phone", &c.OwnerPhone}} {
		v, ok := asString(m[f.name])
		if v = strings.TrimSpace(v); !ok || v == "" {
			return nil, badWhatsApp(f.name + " is required")
		}
		*f.dst = &v
	}
	c.Name = *c.OwnerName
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max_devices", &c.MaxDevices}, {"rate_limit_per_hour", new(int64)}} {
		n, ok := asInt(m[f.name])
		if !ok || n <= 0 {
			return nil, badWhatsApp(f.name + " is required: a positive integer")
		}
		*f.dst = n
		if f.name == "rate_limit_per_hour" {
			c.RateLimit = &latchkey.RateLimit{Limit: n, WindowSeconds: 3600}
		}
	}
	return c, nil
}

// handleWhatsAppList is GET /admin/api-keys: the account's api keys.
func (s *Surfaces) handleWhatsAppList(w http.ResponseWriter, r *http.Request) replier {
	p, e := s.whatsAppPrincipal(r)
	if e != nil {
		return e
	}
	ctx := actorContext(r, p)
	keys, err := s.allKeys(ctx, latchkey.KeyFilter{AccountID: p.AccountID, Kind: ptrTo(latchkey.KindAPI)})
	if err != nil {
		return s.failure(whatsApp, err)
	}
	out := []whatsAppKey{}
	for _, k := range keys {
		devices, err := s.Keys.FindDevices(ctx, p.AccountID, k.ID)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND { // not found: deleted meanwhile
			return s.failure(whatsApp, err)
		}
		wk := newWhatsAppKey(k)
		wk.DeviceCount = ptrTo(len(devices))
		out = append(out, wk)
	}
	return whatsAppData(http.StatusOK, "API keys retrieved successfully", out)
}

// whatsAppTarget authenticates the operator and finds the key {id} names.
func (s *Surfaces) whatsAppTarget(r *http.Request) (*auth.Principal, *latchkey.Key, replier) {
	p, id, e := callerAndID(whatsApp, r, s.whatsAppPrincipal)
	if e != nil {
		return nil, nil, e
	}
	notFound := whatsAppFail(http.StatusNotFound, "API key not found")
	k, err := s.Keys.FindKeyByID(actorContext(r, p), p.AccountID, id)
	if e := s.outcome(whatsApp, err, notFound, nil); e != nil {
		return nil, nil, e
	}
	if k.Kind != latchkey.KindAPI {
		return nil, nil, notFound
	}
	return p, k, nil
}

// handleWhatsAppGet is GET /admin/api-keys/{id}.
func (s *Surfaces) handleWhatsAppGet(w http.ResponseWriter, r *http.Request) replier {
	_, k, e := s.whatsAppTarget(r)
	if e != nil {
		return e
	}
	devices, err := s.Keys.FindDevices(r.Context(), k.AccountID, k.ID)
	if e := s.outcome(whatsApp, err, whatsAppFail(http.StatusNotFound, "API key not found"), nil); e != nil {
		return e
	}
	out := newWhatsAppKey(k)
	list := []whatsAppDevice{}
	for _, d := range devices {
		list = append(list, whatsAppDevice{DeviceID: d.DeviceID, CreatedAt: d.CreatedAt.UTC()})
	}
	out.DeviceCount, out.Devices = ptrTo(len(devices)), &list
	out.CreatedAt, out.UpdatedAt = utcPtr(&k.CreatedAt), utcPtr(&k.UpdatedAt)
	return whatsAppData(http.StatusOK, "API key retrieved successfully", out)
}

// handleWhatsAppDelete is DELETE /admin/api-keys/{id}.
func (s *Surfaces) handleWhatsAppDelete(w http.ResponseWriter, r *http.Request) replier {
	p, k, e := s.whatsAppTarget(r)
	if e != nil {
		return e
	}
	err := s.Keys.DeleteKey(actorContext(r, p), p.AccountID, k.ID)
	if e := s.outcome(whatsApp, err, whatsAppFail(http.StatusNotFound, "API key not found"), nil); e != nil {
		return e
	}
	return whatsAppData(http.StatusOK, "API key deleted successfully", struct{}{})
}
