// The key form shared by the create page and a key's page: every field of
// the model, read from a posted form into the root package's KeyCreate or
// KeyUpdate, which validate it.

package ui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/httpx"
)

// keyForm is a key's fields as the form shows them: what was posted, or
// the stored key's values.
type keyForm struct {
	Kind                                  string
	Name, Description                     string
	OwnerEmail, OwnerName, OwnerPhone     string
	Enabled                               bool
	ExpiresAt                             string // datetime-local, UTC
	Permissions                           []string
	RateLimit, RateWindow                 string
	MaxDevices                            string
	Credits, RefillAmount, RefillInterval string
	Meta                                  string
}

// formOf fills the form from a stored key.
func formOf(k *latchkey.Key) keyForm {
	f := keyForm{
		Kind: string(k.Kind), Name: k.Name, Description: k.Description,
		OwnerEmail: deref(k.OwnerEmail), OwnerName: deref(k.OwnerName), OwnerPhone: deref(k.OwnerPhone),
		Enabled: k.Enabled, Permissions: k.Permissions, Meta: string(k.Meta), RateWindow: "3600",
	}
	if f.Meta == "{}" {
		f.Meta = ""
	}
	if k.ExpiresAt != nil {
		f.ExpiresAt = k.ExpiresAt.UTC().Format(inputTime)
	}
	if k.RateLimit != nil {
		f.RateLimit, f.RateWindow = itoa(k.RateLimit.Limit), itoa(k.RateLimit.WindowSeconds)
	}
	if k.MaxDevices > 0 {
		f.MaxDevices = itoa(k.MaxDevices)
	}
	if c := k.Credits; c != nil {
		f.Credits, f.RefillInterval = itoa(c.Remaining), string(c.RefillInterval)
		if c.RefillAmount != nil {
			f.RefillAmount = itoa(*c.RefillAmount)
		}
	}
	return f
}

// postedForm reads the posted key form as it was sent, to show again.
func postedForm(v url.Values) keyForm {
	return keyForm{
		Kind: v.Get("kind"), Name: v.Get("name"), Description: v.Get("description"),
		OwnerEmail: v.Get("owner_email"), OwnerName: v.Get("owner_name"), OwnerPhone: v.Get("owner_phone"),
		Enabled: v.Get("enabled") != "", ExpiresAt: v.Get("expires_at"), Permissions: v["permissions"],
		RateLimit: v.Get("rate_limit"), RateWindow: v.Get("rate_window"), MaxDevices: v.Get("max_devices"),
		Credits: v.Get("credits"), RefillAmount: v.Get("refill_amount"), RefillInterval: v.Get("refill_interval"),
		Meta: v.Get("meta"),
	}
}

// inputTime is the layout of an <input type="datetime-local">, read as UTC.
const inputTime = "2006-01-02T15:04"

// settings are the form's typed values, each checked for its shape here;
// the rules of the model are the root package's.
type settings struct {
	expires    *time.Time
	rateLimit  *latchkey.RateLimit
	maxDevices int64
	credits    *latchkey.Credits
	meta       json.RawMessage
}

// parse turns the form's strings into typed values, naming the field
// that does not parse.
func (f keyForm) parse() (settings, error) {
	var s settings
	if v := strings.TrimSpace(f.ExpiresAt); v != "" {
		t, err := time.Parse(inputTime, v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				return s, latchkey.FieldError("expires_at", "must be a date and time like 2027-01-31T18:00 (UTC)")
			}
		}
		t = t.UTC()
		s.expires = &t
	}
	if v := strings.TrimSpace(f.RateLimit); v != "" {
		limit, err := number("rate_limit", v)
		if err != nil {
			return s, err
		}
		window, err := number("rate_window", strings.TrimSpace(f.RateWindow))
		if err != nil {
			return s, err
		}
		s.rateLimit = &latchkey.RateLimit{Limit: limit, WindowSeconds: window}
	}
	if v := strings.TrimSpace(f.MaxDevices); v != "" {
		n, err := number("max_devices", v)
		if err != nil {
			return s, err
		}
		s.maxDevices = n
	}
	if v := strings.TrimSpace(f.Credits); v != "" {
		n, err := number("credits", v)
		if err != nil {
			return s, err
		}
		c := &latchkey.Credits{Remaining: n, RefillInterval: latchkey.RefillInterval(f.RefillInterval)}
		if v := strings.TrimSpace(f.RefillAmount); v != "" {
			a, err := number("refill_amount", v)
			if err != nil {
				return s, err
			}
			c.RefillAmount = &a
		}
		s.credits = c
	}
	if v := strings.TrimSpace(f.Meta); v != "" {
		if !json.Valid([]byte(v)) {
			return s, latchkey.FieldError("meta", "must be a JSON object like {\"plan\": \"pro\"}")
		}
		if err := httpx.CheckJSONStrings([]byte(v)); err != nil { // a \u0000 inside, as the API refuses
			return s, latchkey.FieldError("meta", "%s", latchkey.ErrorMessage(err))
		}
		s.meta = json.RawMessage(v)
	}
	return s, nil
}

// create is the form as a KeyCreate.
func (f keyForm) create() (*latchkey.KeyCreate, error) {
	s, err := f.parse()
	if err != nil {
		return nil, err
	}
	enabled := f.Enabled
	return &latchkey.KeyCreate{
		Kind: latchkey.KeyKind(f.Kind), Name: f.Name, Description: f.Description,
		OwnerEmail: opt(f.OwnerEmail), OwnerName: opt(f.OwnerName), OwnerPhone: opt(f.OwnerPhone),
		Enabled: &enabled, ExpiresAt: s.expires, Permissions: nonNil(f.Permissions),
		RateLimit: s.rateLimit, MaxDevices: s.maxDevices, Credits: s.credits, Meta: s.meta,
	}, nil
}

// update is the form as a KeyUpdate that sets every field: an empty input
// clears its field. Credits and the expiry are set only when the user
// changed them from the values the page showed (the form's *_was fields),
// so saving the page neither resets a balance that verifications have
// spent since nor cuts an expiry's seconds, which the field does not show.
func (f keyForm) update(v url.Values) (*latchkey.KeyUpdate, error) {
	s, err := f.parse()
	if err != nil {
		return nil, err
	}
	name, desc, enabled, perms, devices := f.Name, f.Description, f.Enabled, nonNil(f.Permissions), s.maxDevices
	u := &latchkey.KeyUpdate{
		Name: &name, Description: &desc, Enabled: &enabled, Permissions: &perms, MaxDevices: &devices,
		OwnerEmail: nullable(opt(f.OwnerEmail)), OwnerName: nullable(opt(f.OwnerName)), OwnerPhone: nullable(opt(f.OwnerPhone)),
		RateLimit: nullable(s.rateLimit),
	}
	// The field shows minutes only: an untouched expiry keeps its seconds.
	if v.Get("expires_at_was") != f.ExpiresAt {
		u.ExpiresAt = nullable(s.expires)
	}
	if s.meta != nil {
		u.Meta = latchkey.Some(s.meta)
	} else {
		u.Meta = latchkey.Some(json.RawMessage("{}"))
	}
	if v.Get("credits_was") != f.Credits || v.Get("refill_amount_was") != f.RefillAmount || v.Get("refill_interval_was") != f.RefillInterval {
		u.Credits = nullable(s.credits)
	}
	return u, nil
}

// number parses a whole number of a form field.
func number(field, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, latchkey.FieldError(field, "must be a whole number")
	}
	return n, nil
}

// nullable sets a field to v, or clears it when v is nil.
func nullable[T any](v *T) latchkey.Nullable[T] {
	if v == nil {
		return latchkey.Null[T]()
	}
	return latchkey.Some(*v)
}

// opt is nil for an empty input.
func opt(s string) *string {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return &s
}

// nonNil is an empty list for no values.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// deref is "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
