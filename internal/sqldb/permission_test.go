package sqldb_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
)

// testPermissions checks an account's catalogue: creating, listing per account, conflicts and deletion.
func testPermissions(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	other := MustCreateAccount(t, s, "other")
	for _, n := range []string{"write", "admin", "read"} {
		p := &latchkey.Permission{AccountID: a.ID, Name: n, Description: "may " + n}
		if err := s.CreatePermission(ctx, p); err != nil {
			t.Fatalf("CreatePermission(%q): %v", n, err)
		}
		if !p.CreatedAt.Equal(e.clock.Now()) {
			t.Errorf("created_at: got %v, want %v", p.CreatedAt, e.clock.Now())
		}
	}
	MustCreatePermission(t, s, other.ID, "read")

	list, err := s.FindPermissions(ctx, a.ID)
	if err != nil {
		t.Fatalf("FindPermissions: %v", err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
		if p.AccountID != a.ID || p.Description != "may "+p.Name || !p.CreatedAt.Equal(e.clock.Now()) {
			t.Errorf("permission %+v: want account %d and its description", p, a.ID)
		}
	}
	if !reflect.DeepEqual(names, []string{"admin", "read", "write"}) {
		t.Errorf("names: got %v, want [admin read write]", names)
	}
	if list, err := s.FindPermissions(ctx, 9999); err != nil || list == nil || len(list) != 0 {
		t.Errorf("unknown account: got %v, %v, want an empty list", list, err)
	}

	invalid := []struct {
		name string
		p    *latchkey.Permission
		code string
	}{
		{"exists", &latchkey.Permission{AccountID: a.ID, Name: "read"}, latchkey.ECONFLICT},
		{"bad name", &latchkey.Permission{AccountID: a.ID, Name: "has space"}, latchkey.EINVALID},
		{"empty name", &latchkey.Permission{AccountID: a.ID}, latchkey.EINVALID},
		{"no account", &latchkey.Permission{AccountID: 9999, Name: "x"}, latchkey.ENOTFOUND},
		{"nil", nil, latchkey.EINVALID},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, s.CreatePermission(ctx, tt.p), tt.code) })
	}

	holder, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read", "write"}})
	bystander, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"admin"}})
	otherKey, _ := MustCreateKey(t, s, other.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	root, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Permissions: []string{latchkey.PermKeysRead}})
	rec := MustSubscribe(t, s)

	if err := s.DeletePermission(ctx, a.ID, "read"); err != nil {
		t.Fatalf("DeletePermission: %v", err)
	}
	if got := MustFindKey(t, s, a.ID, holder.ID).Permissions; !reflect.DeepEqual(got, []string{"write"}) {
		t.Errorf("holder's permissions: got %v, want [write]", got)
	}
	if got := MustFindKey(t, s, a.ID, bystander.ID).Permissions; !reflect.DeepEqual(got, []string{"admin"}) {
		t.Errorf("bystander's permissions: got %v, want [admin]", got)
	}
	if got := MustFindKey(t, s, other.ID, otherKey.ID).Permissions; !reflect.DeepEqual(got, []string{"read"}) {
		t.Errorf("other account's key: got %v, want [read]", got)
	}
	if got := MustFindKey(t, s, a.ID, root.ID).Permissions; !reflect.DeepEqual(got, []string{"keys:read"}) {
		t.Errorf("root key: got %v, want [keys:read]", got)
	}
	if got := rec.take(); !reflect.DeepEqual(got, []latchkey.KeyChange{{AccountID: a.ID, KeyID: holder.ID}}) {
		t.Errorf("change feed: got %v, want only the holder", got)
	}
	if list, _ := s.FindPermissions(ctx, other.ID); len(list) != 1 {
		t.Errorf("other account's catalogue: got %d, want 1", len(list))
	}
	_, _, err = s.CreateKey(ctx, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	wantCode(t, err, latchkey.EINVALID)

	wantCode(t, s.DeletePermission(ctx, a.ID, "read"), latchkey.ENOTFOUND)
	wantCode(t, s.DeletePermission(ctx, a.ID, "never"), latchkey.ENOTFOUND)
	if got := rec.take(); len(got) != 0 {
		t.Errorf("change feed after failed deletes: got %v, want nothing", got)
	}

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, Action: ptr(latchkey.ActionPermissionDelete)})
	if len(events) != 1 || events[0].TargetID != "read" || string(events[0].Changes["key_ids"].Before) != dump([]int64{holder.ID}) {
		t.Errorf("delete events: got %s, want one naming read and the holder", dump(events))
	}
	if n := countEvents(t, s, a.ID, latchkey.ActionPermissionCreate); n != 3 {
		t.Errorf("create events: got %d, want 3", n)
	}
}

// testPermissionDeleteConcurrent deletes catalogue names while other
// writers assign them: every call ends in success or a clear refusal
// (unknown permission), never a deadlock or an internal error.
func testPermissionDeleteConcurrent(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	const names = 12
	var all []string
	for i := 0; i < names; i++ {
		all = append(all, fmt.Sprintf("p%d", i))
	}
	MustCreatePermission(t, s, a.ID, all...)
	var keys []int64
	for i := 0; i < 8; i++ {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: all})
		keys = append(keys, k.ID)
	}
	var wg sync.WaitGroup
	for _, id := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				perms := []string{all[(i+int(id))%names], all[(i+int(id)+5)%names]}
				_, err := s.UpdateKey(ctx, a.ID, id, &latchkey.KeyUpdate{Permissions: &perms})
				if code := latchkey.ErrorCode(err); code != "" && code != latchkey.EINVALID {
					t.Errorf("UpdateKey: %v", err)
					return
				}
			}
		}()
	}
	for _, n := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.DeletePermission(ctx, a.ID, n); err != nil {
				t.Errorf("DeletePermission(%q): %v", n, err)
			}
		}()
	}
	wg.Wait()
	for _, id := range keys {
		if k := MustFindKey(t, s, a.ID, id); len(k.Permissions) != 0 {
			t.Errorf("key %d: got %v, want no permissions left", id, k.Permissions)
		}
	}
}
