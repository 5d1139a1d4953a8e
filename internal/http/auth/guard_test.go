package auth_test

import (
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// GuardKeyChange: self-lockout, and root keys needing account:admin.
func TestGuardKeyChange(t *testing.T) {
	rootKey := func(id int64, perms ...string) *auth.Principal {
		return &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorRootKey, ID: id}, Permissions: perms}
	}
	kindOf := func(k latchkey.KeyKind) func() (latchkey.KeyKind, error) {
		return func() (latchkey.KeyKind, error) { return k, nil }
	}
	for _, tt := range []struct {
		name     string
		p        *auth.Principal
		id       int64
		selfSafe bool
		kind     latchkey.KeyKind
		want     error
	}{
		{"itself", rootKey(5, latchkey.PermAccountAdmin), 5, false, latchkey.KindRoot, auth.ErrSelfLockout},
		{"itself, self-safe", rootKey(5, latchkey.PermAccountAdmin), 5, true, latchkey.KindRoot, nil},
		{"another root key with account:admin", rootKey(5, latchkey.PermAccountAdmin), 6, false, latchkey.KindRoot, nil},
		{"another root key with keys:write", rootKey(5, latchkey.PermKeysWrite), 6, false, latchkey.KindRoot, auth.ErrRootNeedsAdmin},
		{"an api key with keys:write", rootKey(5, latchkey.PermKeysWrite), 6, false, latchkey.KindAPI, nil},
		{"a member", &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorUser}, Role: latchkey.RoleMember}, 6, false, latchkey.KindRoot, auth.ErrRootNeedsAdmin},
		{"an admin", &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorUser}, Role: latchkey.RoleAdmin}, 6, false, latchkey.KindRoot, nil},
		{"the operator", &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorOperator}}, 6, false, latchkey.KindRoot, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.GuardKeyChange(tt.id, tt.selfSafe, kindOf(tt.kind)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
