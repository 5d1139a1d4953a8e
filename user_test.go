package latchkey

import "testing"

// TestRolePermits checks an admin is granted every root permission and a member only the read ones.
func TestRolePermits(t *testing.T) {
	for _, tt := range []struct {
		role Role
		perm string
		want bool
	}{
		{RoleAdmin, PermKeysWrite, true},
		{RoleAdmin, PermAccountAdmin, true},
		{RoleMember, PermKeysRead, true},
		{RoleMember, PermAuditRead, true},
		{RoleMember, PermKeysWrite, false},
		{RoleMember, PermKeysVerify, false},
		{RoleMember, PermAccountAdmin, false},
	} {
		if got := tt.role.Permits(tt.perm); got != tt.want {
			t.Errorf("%s.Permits(%s): got %v, want %v", tt.role, tt.perm, got, tt.want)
		}
	}
}
