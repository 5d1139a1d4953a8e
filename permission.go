package latchkey

import (
	"context"
	"time"
)

// Root-key permissions: what a key of kind root may do on the management APIs.
const (
	PermKeysRead     = "keys:read"
	PermKeysWrite    = "keys:write"
	PermKeysVerify   = "keys:verify"
	PermAccountAdmin = "account:admin"
	PermAuditRead    = "audit:read"
)

// RootPermissions lists every permission a root key may hold.
var RootPermissions = []string{PermKeysRead, PermKeysWrite, PermKeysVerify, PermAccountAdmin, PermAuditRead}

// IsRootPermission reports whether p is a root-key permission.
func IsRootPermission(p string) bool {
	for _, r := range RootPermissions {
		if p == r {
			return true
		}
	}
	return false
}

// Permission is a name in an account's catalogue that api keys may hold.
type Permission struct {
	AccountID   int64     `json:"account_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// Validate names the bad field of a permission.
func (p *Permission) Validate() error {
	if err := ValidatePermissionName("name", p.Name); err != nil {
		return err
	}
	return validateText("description", p.Description, 2000)
}

// ValidatePermissionName checks a permission name: 1–100 characters of
// letters, digits and _ . : * -.
func ValidatePermissionName(field, name string) error {
	if name == "" || len(name) > 100 {
		return FieldError(field, "must be 1 to 100 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '*' || c == '-') {
			return FieldError(field, "%q may hold only letters, digits and _ . : * -", name)
		}
	}
	return nil
}

// validatePermissionNames checks each name of a key's permissions.
func validatePermissionNames(names []string) error {
	for _, n := range names {
		if err := ValidatePermissionName("permissions", n); err != nil {
			return err
		}
	}
	return nil
}

// HasPermissions reports whether held contains every name in want.
func HasPermissions(held, want []string) bool {
outer:
	for _, w := range want {
		for _, h := range held {
			if h == w {
				continue outer
			}
		}
		return false
	}
	return true
}

// PermissionService manages an account's permission catalogue.
type PermissionService interface {
	// FindPermissions lists the catalogue by name.
	FindPermissions(ctx context.Context, accountID int64) ([]*Permission, error)
	// CreatePermission adds a name. Errors: invalid, conflict (exists).
	CreatePermission(ctx context.Context, p *Permission) error
	// DeletePermission removes a name from the catalogue and from every key
	// holding it. Errors: not_found.
	DeletePermission(ctx context.Context, accountID int64, name string) error
}
