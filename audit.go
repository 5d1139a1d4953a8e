package latchkey

import (
	"context"
	"encoding/json"
	"time"
)

// Audit actions.
const (
	ActionKeyCreate        = "key.create"
	ActionKeyUpdate        = "key.update"
	ActionKeyDelete        = "key.delete"
	ActionKeyRevoke        = "key.revoke"
	ActionKeyRotate        = "key.rotate"
	ActionDeviceDelete     = "device.delete"
	ActionPermissionCreate = "permission.create"
	ActionPermissionDelete = "permission.delete"
	ActionAccountCreate    = "account.create"
)

// Change is one field's value before and after a mutation. Secrets and
// their hashes never appear in a Change.
type Change struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// AuditEvent records one mutation.
type AuditEvent struct {
	ID         int64             `json:"id"`
	AccountID  int64             `json:"account_id"`
	Time       time.Time         `json:"time"`
	ActorKind  ActorKind         `json:"actor_kind"`
	ActorID    int64             `json:"actor_id"`
	Action     string            `json:"action"`
	TargetType string            `json:"target_type"` // key, permission, device, account
	TargetID   string            `json:"target_id"`
	Changes    map[string]Change `json:"changes"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"user_agent"`
}

// AuditFilter selects audit events of one account; nil fields match all.
type AuditFilter struct {
	AccountID int64
	KeyID     *int64
	ActorKind *ActorKind
	ActorID   *int64
	Action    *string
	Since     *time.Time
	Until     *time.Time
	Limit     int    // 1..1000; 0 means 50
	Cursor    string // opaque, from the previous page
}

// AuditService reads the audit log; events are written by the mutations
// themselves.
type AuditService interface {
	// FindAuditEvents returns a page of events, newest first, and the
	// cursor of the next page. Errors: invalid (bad cursor or limit).
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, string, error)
}

// Audit actions of people and sessions.
const (
	ActionUserCreate       = "user.create"
	ActionUserUpdate       = "user.update"
	ActionMemberSet        = "member.set"
	ActionMemberRemove     = "member.remove"
	ActionSetupComplete    = "setup.complete"
	ActionSessionLogin     = "session.login"
	ActionSessionLogout    = "session.logout"
	ActionSessionLogoutAll = "session.logout_all"
	ActionSessionReuse     = "session.reuse_detected"
)
