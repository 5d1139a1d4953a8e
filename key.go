package latchkey

import (
	"bytes"
	"context"
	"encoding/json"
	"net/mail"
	"strings"
	"time"
)

// KeyKind says what a key is for.
type KeyKind string

// Key kinds.
const (
	KindAPI  KeyKind = "api"  // issued to customers; verifiable
	KindRoot KeyKind = "root" // an operator credential for the management APIs
)

// Valid reports whether k is a known kind.
func (k KeyKind) Valid() bool { return k == KindAPI || k == KindRoot }

// Status is a key's derived state; it is never stored.
type Status string

// Statuses, in the order they win.
const (
	StatusRevoked  Status = "revoked"
	StatusExpired  Status = "expired"
	StatusDisabled Status = "disabled"
	StatusActive   Status = "active"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusRevoked, StatusExpired, StatusDisabled, StatusActive:
		return true
	}
	return false
}

// KeyStatus derives a status: revoked if revokedAt is set, else expired if
// expiresAt ≤ now, else disabled if not enabled, else active.
func KeyStatus(enabled bool, expiresAt, revokedAt *time.Time, now time.Time) Status {
	switch {
	case revokedAt != nil:
		return StatusRevoked
	case expiresAt != nil && !expiresAt.After(now):
		return StatusExpired
	case !enabled:
		return StatusDisabled
	}
	return StatusActive
}

// RateLimit allows Limit verifications per WindowSeconds.
type RateLimit struct {
	Limit         int64 `json:"limit"`
	WindowSeconds int64 `json:"window_seconds"`
}

// Validate names the bad field of a rate limit.
func (r *RateLimit) Validate() error {
	if r.Limit < 0 {
		return FieldError("rate_limit.limit", "must not be negative")
	}
	if r.WindowSeconds <= 0 {
		return FieldError("rate_limit.window_seconds", "must be positive")
	}
	if r.WindowSeconds > 366*24*3600 {
		return FieldError("rate_limit.window_seconds", "must be at most a year")
	}
	return nil
}

// Window returns the rate limit's window as a duration.
func (r *RateLimit) Window() time.Duration { return time.Duration(r.WindowSeconds) * time.Second }

// RefillInterval is how often credits refill.
type RefillInterval string

// Refill intervals.
const (
	RefillHour  RefillInterval = "hour"
	RefillDay   RefillInterval = "day"
	RefillWeek  RefillInterval = "week"
	RefillMonth RefillInterval = "month"
)

// Next returns when credits refilled at t refill again.
func (r RefillInterval) Next(t time.Time) time.Time {
	switch r {
	case RefillHour:
		return t.Add(time.Hour)
	case RefillDay:
		return t.AddDate(0, 0, 1)
	case RefillWeek:
		return t.AddDate(0, 0, 7)
	case RefillMonth:
		return t.AddDate(0, 1, 0)
	}
	return time.Time{}
}

// Credits is a remaining-uses counter with an optional refill.
type Credits struct {
	Remaining      int64          `json:"remaining"`
	RefillAmount   *int64         `json:"refill_amount"`
	RefillInterval RefillInterval `json:"refill_interval,omitempty"`
	RefilledAt     *time.Time     `json:"refilled_at,omitempty"` // read-only: when last set or refilled
}

// Validate names the bad field of a credits setting.
func (c *Credits) Validate() error {
	if c.RefilledAt != nil {
		return FieldError("credits.refilled_at", "is read-only")
	}
	if c.Remaining < 0 {
		return FieldError("credits.remaining", "must not be negative")
	}
	if c.RefillAmount != nil && *c.RefillAmount < 0 {
		return FieldError("credits.refill_amount", "must not be negative")
	}
	switch c.RefillInterval {
	case "":
		if c.RefillAmount != nil {
			return FieldError("credits.refill_interval", "is required with refill_amount (hour, day, week or month)")
		}
	case RefillHour, RefillDay, RefillWeek, RefillMonth:
		if c.RefillAmount == nil {
			return FieldError("credits.refill_amount", "is required with refill_interval")
		}
	default:
		return FieldError("credits.refill_interval", "must be one of hour, day, week, month")
	}
	return nil
}

// Refill returns the remaining credits at now, applying a due refill, and
// when that refill happened (nil if none was due).
func (c *Credits) Refill(now time.Time) (remaining int64, refilledAt *time.Time) {
	if c.RefillAmount == nil || c.RefillInterval == "" {
		return c.Remaining, nil
	}
	if c.RefilledAt != nil && now.Before(c.RefillInterval.Next(*c.RefilledAt)) {
		return c.Remaining, nil
	}
	return *c.RefillAmount, &now
}

// MaxReasonLen bounds a revocation reason, in bytes.
const MaxReasonLen = 500

// Key is an API or root key. Its secret is never part of it.
type Key struct {
	ID            int64           `json:"id"`
	AccountID     int64           `json:"account_id"`
	Kind          KeyKind         `json:"kind"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	OwnerEmail    *string         `json:"owner_email"`
	OwnerName     *string         `json:"owner_name"`
	OwnerPhone    *string         `json:"owner_phone"`
	Enabled       bool            `json:"enabled"`
	Status        Status          `json:"status"`
	ExpiresAt     *time.Time      `json:"expires_at"`
	RevokedAt     *time.Time      `json:"revoked_at"`
	RevokedReason *string         `json:"revoked_reason"`
	Permissions   []string        `json:"permissions"`
	RateLimit     *RateLimit      `json:"rate_limit"`
	MaxDevices    int64           `json:"max_devices"`
	Credits       *Credits        `json:"credits"`
	Meta          json.RawMessage `json:"meta"`
	Start         string          `json:"start"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	CreatedIP     string          `json:"created_ip"`
	UserAgent     string          `json:"user_agent"`
	LastUsedAt    *time.Time      `json:"last_used_at"`
	LastRequest   *string         `json:"last_request"` // "METHOD /path" a gateway last let through with the key
}

// StatusAt derives the key's status at now.
func (k *Key) StatusAt(now time.Time) Status {
	return KeyStatus(k.Enabled, k.ExpiresAt, k.RevokedAt, now)
}

// KeyCreate is the input of CreateKey. Zero values mean: kind api, enabled,
// no expiry, no limits, empty meta.
type KeyCreate struct {
	Kind        KeyKind         `json:"kind"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	OwnerEmail  *string         `json:"owner_email"`
	OwnerName   *string         `json:"owner_name"`
	OwnerPhone  *string         `json:"owner_phone"`
	Enabled     *bool           `json:"enabled"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Permissions []string        `json:"permissions"`
	RateLimit   *RateLimit      `json:"rate_limit"`
	MaxDevices  int64           `json:"max_devices"`
	Credits     *Credits        `json:"credits"`
	Meta        json.RawMessage `json:"meta"`
}

// Validate checks the shape of the input (not the permission catalogue,
// which the store checks) and names the bad field.
func (c *KeyCreate) Validate(now time.Time) error {
	if c.Kind == "" {
		c.Kind = KindAPI
	}
	if !c.Kind.Valid() {
		return FieldError("kind", "must be api or root")
	}
	if err := validateText("name", c.Name, 200); err != nil {
		return err
	}
	if err := validateText("description", c.Description, 2000); err != nil {
		return err
	}
	if err := validateOwner(c.OwnerEmail, c.OwnerName, c.OwnerPhone); err != nil {
		return err
	}
	if c.RateLimit != nil {
		if err := c.RateLimit.Validate(); err != nil {
			return err
		}
	}
	if c.MaxDevices < 0 {
		return FieldError("max_devices", "must not be negative")
	}
	if c.Credits != nil {
		if err := c.Credits.Validate(); err != nil {
			return err
		}
	}
	if string(c.Meta) == "null" {
		c.Meta = nil
	}
	if err := validateMeta(c.Meta); err != nil {
		return err
	}
	if err := validatePermissionNames(c.Permissions); err != nil {
		return err
	}
	return nil
}

// KeyUpdate is a JSON merge patch of a key: a nil pointer or an unset
// Nullable keeps the field; a set Nullable with Null clears it.
type KeyUpdate struct {
	Name          *string
	Description   *string
	OwnerEmail    Nullable[string]
	OwnerName     Nullable[string]
	OwnerPhone    Nullable[string]
	Enabled       *bool
	ExpiresAt     Nullable[time.Time]
	Permissions   *[]string
	RateLimit     Nullable[RateLimit]
	MaxDevices    *int64
	Credits       Nullable[Credits]
	Meta          Nullable[json.RawMessage]
	Revoked       *bool            // true revokes (stamps revoked_at), false un-revokes
	RevokedReason Nullable[string] // with Revoked; un-revoking clears it unless one is set
	// Restamp makes Revoked true stamp RevokedAt anew on a key that is
	// revoked already (seed 000's product does); otherwise the first
	// revocation time is kept.
	Restamp bool

	// OwnerEmailFreeText skips the address check of OwnerEmail for a surface
	// whose document types the owner's email as a plain string (seed 001's
	// customer_email, whose own example sends "string"). Length and NUL
	// checks still apply.
	OwnerEmailFreeText bool
}

// Apply merges the update into k as of now: the one field-by-field merge
// that the store and the test doubles share. A revoke stamps RevokedAt only
// when k is not revoked yet; un-revoking clears the stamp and the reason; an
// empty reason is none; new credits start their refill period at now; meta
// is stored compact; times are kept in UTC to the microsecond. Permissions
// are copied as given: the store replaces them with the checked set.
func (u *KeyUpdate) Apply(k *Key, now time.Time) {
	keep(&k.Name, u.Name)
	keep(&k.Description, u.Description)
	u.OwnerEmail.applyTo(&k.OwnerEmail)
	u.OwnerName.applyTo(&k.OwnerName)
	u.OwnerPhone.applyTo(&k.OwnerPhone)
	keep(&k.Enabled, u.Enabled)
	if u.ExpiresAt.Set {
		k.ExpiresAt = nil
		if t := u.ExpiresAt.Ptr(); t != nil {
			at := t.UTC().Truncate(time.Microsecond)
			k.ExpiresAt = &at
		}
	}
	if u.Permissions != nil {
		k.Permissions = append([]string(nil), (*u.Permissions)...)
	}
	u.RateLimit.applyTo(&k.RateLimit)
	keep(&k.MaxDevices, u.MaxDevices)
	if u.Credits.Set {
		k.Credits = nil
		if c := u.Credits.Ptr(); c != nil {
			started := *c
			started.RefilledAt = &now
			k.Credits = &started
		}
	}
	if u.Meta.Set {
		k.Meta = json.RawMessage("{}")
		var b bytes.Buffer
		if len(u.Meta.Value) > 0 && json.Compact(&b, u.Meta.Value) == nil {
			k.Meta = b.Bytes()
		}
	}
	if u.Revoked != nil {
		if *u.Revoked {
			if k.RevokedAt == nil || u.Restamp {
				at := now
				k.RevokedAt = &at
			}
		} else {
			k.RevokedAt, k.RevokedReason = nil, nil
		}
	}
	if u.RevokedReason.Set {
		k.RevokedReason = u.RevokedReason.Ptr()
		if k.RevokedReason != nil && *k.RevokedReason == "" {
			k.RevokedReason = nil
		}
	}
}

// Empty reports whether the update changes nothing.
func (u *KeyUpdate) Empty() bool {
	return u.Name == nil && u.Description == nil && !u.OwnerEmail.Set && !u.OwnerName.Set &&
		!u.OwnerPhone.Set && u.Enabled == nil && !u.ExpiresAt.Set && u.Permissions == nil &&
		!u.RateLimit.Set && u.MaxDevices == nil && !u.Credits.Set && !u.Meta.Set &&
		u.Revoked == nil && !u.RevokedReason.Set
}

// Validate checks the shape of the update and names the bad field.
func (u *KeyUpdate) Validate() error {
	if u.Name != nil {
		if err := validateText("name", *u.Name, 200); err != nil {
			return err
		}
	}
	if u.Description != nil {
		if err := validateText("description", *u.Description, 2000); err != nil {
			return err
		}
	}
	email := u.OwnerEmail.Ptr()
	if u.OwnerEmailFreeText && email != nil {
		if err := validateText("owner_email", *email, 254); err != nil {
			return err
		}
		email = nil
	}
	if err := validateOwner(email, u.OwnerName.Ptr(), u.OwnerPhone.Ptr()); err != nil {
		return err
	}
	if u.RateLimit.Set && !u.RateLimit.Null {
		if err := u.RateLimit.Value.Validate(); err != nil {
			return err
		}
	}
	if u.MaxDevices != nil && *u.MaxDevices < 0 {
		return FieldError("max_devices", "must not be negative")
	}
	if u.Credits.Set && !u.Credits.Null {
		if err := u.Credits.Value.Validate(); err != nil {
			return err
		}
	}
	if u.Meta.Set {
		if u.Meta.Null {
			u.Meta = Nullable[json.RawMessage]{Set: true, Value: json.RawMessage("{}")}
		} else if err := validateMeta(u.Meta.Value); err != nil {
			return err
		}
	}
	if u.Permissions != nil {
		if err := validatePermissionNames(*u.Permissions); err != nil {
			return err
		}
	}
	if u.RevokedReason.Set && !u.RevokedReason.Null {
		if err := validateText("revoked_reason", u.RevokedReason.Value, MaxReasonLen); err != nil {
			return err
		}
	}
	return nil
}

// Nullable is a field of a merge patch: Set false keeps the stored value,
// Set with Null clears it, Set with a Value replaces it.
type Nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns a Nullable set to v.
func Some[T any](v T) Nullable[T] { return Nullable[T]{Set: true, Value: v} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{Set: true, Null: true} }

// Ptr returns the value, or nil when unset or null.
func (n Nullable[T]) Ptr() *T {
	if !n.Set || n.Null {
		return nil
	}
	return &n.Value
}

// applyTo sets *dst to the field's value (nil for null) when the field is
// set: a nullable field of a merge patch applied.
func (n Nullable[T]) applyTo(dst **T) {
	if n.Set {
		*dst = n.Ptr()
	}
}

// keep sets *dst to *v unless v is nil: a plain field of a patch, where
// absent keeps the stored value.
func keep[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// UnmarshalJSON records that the field was present and whether it was
// null. Unknown fields inside the value are refused, as at the top level.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&n.Value)
}

// KeyFilter selects keys of one account for FindKeys; nil fields match all.
type KeyFilter struct {
	AccountID  int64
	OwnerEmail *string
	Status     *Status
	Kind       *KeyKind
	Query      *string // substring of name, description, owner email or owner name
	Limit      int     // 1..1000; 0 means 50
	Cursor     string  // opaque, from the previous page
}

// Device is a device id seen verifying a key.
type Device struct {
	KeyID     int64     `json:"key_id"`
	DeviceID  string    `json:"device_id"`
	CreatedAt time.Time `json:"created_at"`
}

// UsageFilter selects usage buckets of a key.
type UsageFilter struct {
	Since, Until time.Time
	Bucket       time.Duration // minute, hour or day
}

// UsageBucket counts a key's verifications by outcome in one time bucket.
type UsageBucket struct {
	Start  time.Time        `json:"start"`
	Counts map[string]int64 `json:"counts"` // verify code → count
	Total  int64            `json:"total"`
}

// KeyService manages the keys of an account. Every mutation appends an
// audit event in the same transaction, with the actor from the context, and
// tells the change feed once it has committed.
type KeyService interface {
	// CreateKey creates a key and returns it with its secret, shown this once.
	// Errors: invalid (bad field, unknown permission), not_found (account).
	CreateKey(ctx context.Context, accountID int64, c *KeyCreate) (*Key, string, error)
	// FindKeyByID returns a key of the account. Errors: not_found.
	FindKeyByID(ctx context.Context, accountID, id int64) (*Key, error)
	// FindKeyBySecret returns the key of the account owning the secret with
	// this hash. Errors: not_found.
	FindKeyBySecret(ctx context.Context, accountID int64, hash SecretHash) (*Key, error)
	// FindKeys returns a page of keys, newest first, and the cursor of the
	// next page ("" at the end). Errors: invalid (bad cursor or limit).
	FindKeys(ctx context.Context, f KeyFilter) ([]*Key, string, error)
	// UpdateKey applies a merge patch. Errors: invalid, not_found.
	UpdateKey(ctx context.Context, accountID, id int64, u *KeyUpdate) (*Key, error)
	// DeleteKey deletes a key, its secrets and devices. Errors: not_found.
	DeleteKey(ctx context.Context, accountID, id int64) error
	// RevokeKey stamps revoked_at and the reason. Errors: not_found.
	RevokeKey(ctx context.Context, accountID, id int64, reason string) (*Key, error)
	// RotateKey issues a new secret for the key; its older live secrets
	// expire after grace (at once when grace is 0). Errors: invalid, not_found.
	RotateKey(ctx context.Context, accountID, id int64, grace time.Duration) (*Key, string, error)
	// FindDevices lists the key's devices. Errors: not_found.
	FindDevices(ctx context.Context, accountID, keyID int64) ([]*Device, error)
	// DeleteDevice forgets one device. Errors: not_found.
	DeleteDevice(ctx context.Context, accountID, keyID int64, deviceID string) error
	// FindUsage returns verification counts by outcome. Errors: invalid, not_found.
	FindUsage(ctx context.Context, accountID, keyID int64, f UsageFilter) ([]*UsageBucket, error)
}

// validateText checks a free-text field: at most max bytes and no NUL, which neither engine stores.
func validateText(field, s string, max int) error {
	if len(s) > max {
		return FieldError(field, "must be at most %d bytes", max)
	}
	if strings.ContainsRune(s, 0) {
		return FieldError(field, "must not contain NUL")
	}
	return nil
}

// NormalizeEmail is the one stored and compared form of a user's email:
// trimmed and lower-cased. Sign-in, user creation and lookups all use it.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateEmail checks that s is a bare email address.
func ValidateEmail(field, s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return FieldError(field, "must be an email address like name@example.com")
	}
	return nil
}

// validateOwner checks a key's owner fields, each only when given.
func validateOwner(email, name, phone *string) error {
	if email != nil {
		if err := ValidateEmail("owner_email", *email); err != nil {
			return err
		}
	}
	if name != nil {
		if err := validateText("owner_name", *name, 200); err != nil {
			return err
		}
	}
	if phone != nil {
		if err := validateText("owner_phone", *phone, 50); err != nil {
			return err
		}
	}
	return nil
}

// validateMeta checks meta is a JSON object of at most 16 KiB.
func validateMeta(m json.RawMessage) error {
	if len(m) == 0 {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(m, &obj); err != nil || obj == nil {
		return FieldError("meta", "must be a JSON object")
	}
	if len(m) > 16<<10 {
		return FieldError("meta", "must be at most 16 KiB")
	}
	return nil
}

// ValidateReason checks a revocation reason: at most MaxReasonLen bytes and
// no NUL. Every layer that takes a reason calls this one rule.
func ValidateReason(reason string) error { return validateText("reason", reason, MaxReasonLen) }

// ValidateDeviceID checks a device id named by an admin (1 to MaxDeviceIDLen
// bytes); a verification's optional device id is checked by VerifyRequest.
func ValidateDeviceID(deviceID string) error {
	if deviceID == "" || len(deviceID) > MaxDeviceIDLen {
		return FieldError("device_id", "must be 1 to %d bytes", MaxDeviceIDLen)
	}
	return nil
}

// MaxUsageBuckets bounds the buckets one usage answer holds.
const MaxUsageBuckets = 10000

// Resolve returns f with its defaults filled in and checks it: Until
// defaults to now, Since to one bucket-sized span before Until (60 minutes,
// 24 hours or 30 days), and the range may hold at most MaxUsageBuckets
// buckets. The HTTP layer and the store both call it, so the rule is one.
func (f UsageFilter) Resolve(now time.Time) (UsageFilter, error) {
	var span time.Duration
	switch f.Bucket {
	case time.Minute:
		span = time.Hour
	case time.Hour:
		span = 24 * time.Hour
	case 24 * time.Hour:
		span = 30 * 24 * time.Hour
	default:
		return f, FieldError("bucket", "must be minute, hour or day")
	}
	if f.Until.IsZero() {
		f.Until = now
	}
	if f.Since.IsZero() {
		f.Since = f.Until.Add(-span)
	}
	if !f.Since.Before(f.Until) {
		return f, FieldError("since", "must be before until")
	}
	first := f.Since.Truncate(f.Bucket)
	if n := (f.Until.Sub(first) + f.Bucket - 1) / f.Bucket; n > MaxUsageBuckets {
		return f, FieldError("bucket", "the range holds %d buckets, more than %d: use a larger bucket or a shorter range", n, MaxUsageBuckets)
	}
	return f, nil
}
