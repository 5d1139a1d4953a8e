package sqldb_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

var testActor = latchkey.Actor{Kind: latchkey.ActorUser, ID: 7, IP: "203.0.113.9", UserAgent: "curl/8.5.0"}

// fullKey is a KeyCreate setting every field.
func fullKey() *latchkey.KeyCreate {
	return &latchkey.KeyCreate{
		Name:        "acme prod",
		Description: "production key",
		OwnerEmail:  ptr("ops@acme.test"),
		OwnerName:   ptr("Acme"),
		OwnerPhone:  ptr("+1 555 0100"),
		ExpiresAt:   ptr(time.Date(2031, 1, 1, 0, 0, 0, 123456789, time.UTC)),
		Permissions: []string{"write", "read", "read"},
		RateLimit:   &latchkey.RateLimit{Limit: 1000, WindowSeconds: 3600},
		MaxDevices:  2,
		Credits:     &latchkey.Credits{Remaining: 500, RefillAmount: ptr(int64(500)), RefillInterval: latchkey.RefillMonth},
		Meta:        json.RawMessage(`{ "plan" : "pro" }`),
	}
}

// testCreateKey checks a created key as returned and as found, and its secret.
func testCreateKey(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read", "write")
	now := e.clock.Now()

	actx := latchkey.NewContextWithActor(ctx, testActor)
	k, secret, err := s.CreateKey(actx, a.ID, fullKey())
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if !latchkey.CheckSecret(secret) || !strings.HasPrefix(secret, "lk_") {
		t.Errorf("secret: got a malformed secret of length %d, want lk_… passing its checksum", len(secret))
	}
	want := &latchkey.Key{
		ID: k.ID, AccountID: a.ID, Kind: latchkey.KindAPI, Name: "acme prod", Description: "production key",
		OwnerEmail: ptr("ops@acme.test"), OwnerName: ptr("Acme"), OwnerPhone: ptr("+1 555 0100"),
		Enabled: true, Status: latchkey.StatusActive,
		ExpiresAt:   ptr(time.Date(2031, 1, 1, 0, 0, 0, 123456000, time.UTC)),
		Permissions: []string{"read", "write"},
		RateLimit:   &latchkey.RateLimit{Limit: 1000, WindowSeconds: 3600},
		MaxDevices:  2,
		Credits:     &latchkey.Credits{Remaining: 500, RefillAmount: ptr(int64(500)), RefillInterval: latchkey.RefillMonth, RefilledAt: &now},
		Meta:        json.RawMessage(`{"plan":"pro"}`),
		Start:       latchkey.SecretStart(secret),
		CreatedAt:   now, UpdatedAt: now,
		CreatedIP: "203.0.113.9", UserAgent: "curl/8.5.0",
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("CreateKey:\ngot  %s\nwant %s", dump(k), dump(want))
	}
	if got := MustFindKey(t, s, a.ID, k.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("FindKeyByID:\ngot  %s\nwant %s", dump(got), dump(want))
	}
	got, err := s.FindKeyBySecret(ctx, a.ID, latchkey.HashSecret(secret))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("FindKeyBySecret: got %s, %v, want %s", dump(got), err, dump(want))
	}
	_, err = s.FindKeyBySecret(ctx, a.ID, latchkey.HashSecret(secret+"x"))
	wantCode(t, err, latchkey.ENOTFOUND)

	t.Run("defaults", func(t *testing.T) {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{})
		if k.Kind != latchkey.KindAPI || !k.Enabled || k.Status != latchkey.StatusActive || string(k.Meta) != "{}" ||
			k.Permissions == nil || len(k.Permissions) != 0 || k.ExpiresAt != nil || k.RateLimit != nil ||
			k.Credits != nil || k.MaxDevices != 0 || k.LastUsedAt != nil || k.RevokedAt != nil {
			t.Errorf("got %s, want an enabled api key with no limits, empty meta and no permissions", dump(k))
		}
		if k.CreatedIP != "" || k.UserAgent != "" {
			t.Errorf("system actor: got ip %q agent %q, want empty", k.CreatedIP, k.UserAgent)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Enabled: ptr(false)})
		if k.Enabled || k.Status != latchkey.StatusDisabled {
			t.Errorf("got enabled %v status %q, want false, disabled", k.Enabled, k.Status)
		}
	})
	t.Run("credits without refill", func(t *testing.T) {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Credits: &latchkey.Credits{Remaining: 3}})
		if k.Credits == nil || k.Credits.Remaining != 3 || k.Credits.RefillAmount != nil {
			t.Errorf("got %+v, want 3 remaining and no refill", k.Credits)
		}
		if k.Credits.RefilledAt == nil || !k.Credits.RefilledAt.Equal(k.CreatedAt) {
			t.Errorf("refilled_at: got %v, want the creation time (credits are stamped when set)", k.Credits.RefilledAt)
		}
	})
	t.Run("root", func(t *testing.T) {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Kind: latchkey.KindRoot,
			Permissions: []string{latchkey.PermKeysWrite, latchkey.PermKeysRead}})
		if k.Kind != latchkey.KindRoot || !reflect.DeepEqual(k.Permissions, []string{"keys:read", "keys:write"}) {
			t.Errorf("got kind %q permissions %v, want root [keys:read keys:write]", k.Kind, k.Permissions)
		}
	})
	t.Run("secrets differ", func(t *testing.T) {
		_, s1 := MustCreateKey(t, s, a.ID, nil)
		_, s2 := MustCreateKey(t, s, a.ID, nil)
		if s1 == s2 {
			t.Error("two keys got the same secret")
		}
	})
}

// testCreateKeyInvalid checks each bad field is refused, naming it, and nothing is stored.
func testCreateKeyInvalid(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read")
	tests := []struct {
		name      string
		accountID int64
		c         *latchkey.KeyCreate
		code      string
		field     string
		mention   string // the field message must contain it
	}{
		{"unknown permission", a.ID, &latchkey.KeyCreate{Permissions: []string{"read", "delete"}}, latchkey.EINVALID, "permissions", `"delete"`},
		{"root permission on api key", a.ID, &latchkey.KeyCreate{Permissions: []string{"keys:read"}}, latchkey.EINVALID, "permissions", `"keys:read"`},
		{"api permission on root key", a.ID, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Permissions: []string{"read"}}, latchkey.EINVALID, "permissions", `"read"`},
		{"bad permission name", a.ID, &latchkey.KeyCreate{Permissions: []string{"a b"}}, latchkey.EINVALID, "permissions", ""},
		{"bad kind", a.ID, &latchkey.KeyCreate{Kind: "admin"}, latchkey.EINVALID, "kind", ""},
		{"bad email", a.ID, &latchkey.KeyCreate{OwnerEmail: ptr("not an email")}, latchkey.EINVALID, "owner_email", ""},
		{"negative max devices", a.ID, &latchkey.KeyCreate{MaxDevices: -1}, latchkey.EINVALID, "max_devices", ""},
		{"meta not an object", a.ID, &latchkey.KeyCreate{Meta: json.RawMessage(`[1]`)}, latchkey.EINVALID, "meta", ""},
		{"bad rate limit", a.ID, &latchkey.KeyCreate{RateLimit: &latchkey.RateLimit{Limit: 1}}, latchkey.EINVALID, "rate_limit.window_seconds", ""},
		{"no account", 9999, &latchkey.KeyCreate{}, latchkey.ENOTFOUND, "", ""},
		{"nil", a.ID, nil, latchkey.EINVALID, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, secret, err := s.CreateKey(ctx, tt.accountID, tt.c)
			wantCode(t, err, tt.code)
			if secret != "" {
				t.Errorf("secret: got %d bytes, want none", len(secret))
			}
			if tt.field != "" {
				msg, ok := latchkey.ErrorFields(err)[tt.field]
				if !ok {
					t.Fatalf("fields: got %v, want one naming %q", latchkey.ErrorFields(err), tt.field)
				}
				if !strings.Contains(msg, tt.mention) {
					t.Errorf("message: got %q, want it to contain %s", msg, tt.mention)
				}
			}
		})
	}
	keys, _, err := s.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID})
	if err != nil || len(keys) != 0 {
		t.Errorf("keys after failed creates: got %d, %v, want 0", len(keys), err)
	}
}

// testAccountIsolation checks no call of one account reaches another's keys.
func testAccountIsolation(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	a := MustCreateAccount(t, s, "a")
	other := MustCreateAccount(t, s, "b")
	MustCreatePermission(t, s, a.ID, "read")
	k, secret := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "a's", Permissions: []string{"read"}})
	if err := s.AddDevice(ctx, k.ID, "laptop", 0); err != nil {
		t.Fatal(err)
	}
	o := other.ID
	checks := []struct {
		name string
		err  func() error
	}{
		{"FindKeyByID", func() error { _, err := s.FindKeyByID(ctx, o, k.ID); return err }},
		{"FindKeyBySecret", func() error { _, err := s.FindKeyBySecret(ctx, o, latchkey.HashSecret(secret)); return err }},
		{"UpdateKey", func() error { _, err := s.UpdateKey(ctx, o, k.ID, &latchkey.KeyUpdate{Name: ptr("x")}); return err }},
		{"RevokeKey", func() error { _, err := s.RevokeKey(ctx, o, k.ID, "x"); return err }},
		{"RotateKey", func() error { _, _, err := s.RotateKey(ctx, o, k.ID, 0); return err }},
		{"DeleteKey", func() error { return s.DeleteKey(ctx, o, k.ID) }},
		{"FindDevices", func() error { _, err := s.FindDevices(ctx, o, k.ID); return err }},
		{"DeleteDevice", func() error { return s.DeleteDevice(ctx, o, k.ID, "laptop") }},
		{"FindUsage", func() error {
			_, err := s.FindUsage(ctx, o, k.ID, latchkey.UsageFilter{Bucket: time.Hour})
			return err
		}},
		{"DeletePermission", func() error { return s.DeletePermission(ctx, o, "read") }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.err(), latchkey.ENOTFOUND) })
	}
	t.Run("FindKeys", func(t *testing.T) {
		keys, _, err := s.FindKeys(ctx, latchkey.KeyFilter{AccountID: o})
		if err != nil || len(keys) != 0 {
			t.Errorf("got %d keys, %v, want 0", len(keys), err)
		}
	})
	t.Run("permission catalogue", func(t *testing.T) {
		_, _, err := s.CreateKey(ctx, o, &latchkey.KeyCreate{Permissions: []string{"read"}})
		wantCode(t, err, latchkey.EINVALID)
		perms, err := s.FindPermissions(ctx, o)
		if err != nil || len(perms) != 0 {
			t.Errorf("other account's catalogue: got %v, %v, want empty", perms, err)
		}
	})
	t.Run("audit", func(t *testing.T) {
		for _, ev := range MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: o}) {
			if ev.Action != latchkey.ActionAccountCreate {
				t.Errorf("other account sees event %s of %s %s", ev.Action, ev.TargetType, ev.TargetID)
			}
		}
	})
	got := MustFindKey(t, s, a.ID, k.ID)
	if got.Name != "a's" || got.RevokedAt != nil || got.Start != k.Start || len(got.Permissions) != 1 {
		t.Errorf("key after the other account's attempts: got %s, want it unchanged", dump(got))
	}
	if devs, err := s.FindDevices(ctx, a.ID, k.ID); err != nil || len(devs) != 1 {
		t.Errorf("devices: got %v, %v, want laptop", devs, err)
	}
}

// testUpdateKeyMergePatch checks absent keeps, null clears and a value replaces, field by field.
func testUpdateKeyMergePatch(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read", "write")
	newExpiry := time.Date(2032, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		u       latchkey.KeyUpdate
		changed []string // fields the audit event must list, sorted
		check   func(t *testing.T, before, after *latchkey.Key)
	}{
		{"absent keeps everything but what is set", latchkey.KeyUpdate{Name: ptr("renamed")}, []string{"name"},
			func(t *testing.T, before, after *latchkey.Key) {
				want := *before
				want.Name, want.UpdatedAt = "renamed", after.UpdatedAt
				if !reflect.DeepEqual(after, &want) {
					t.Errorf("got %s, want %s", dump(after), dump(&want))
				}
			}},
		{"null clears owner fields", latchkey.KeyUpdate{OwnerEmail: latchkey.Null[string](), OwnerName: latchkey.Null[string](),
			OwnerPhone: latchkey.Null[string]()}, []string{"owner_email", "owner_name", "owner_phone"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.OwnerEmail != nil || after.OwnerName != nil || after.OwnerPhone != nil {
					t.Errorf("got %v %v %v, want nil", after.OwnerEmail, after.OwnerName, after.OwnerPhone)
				}
			}},
		{"value sets owner email", latchkey.KeyUpdate{OwnerEmail: latchkey.Some("new@acme.test")}, []string{"owner_email"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.OwnerEmail == nil || *after.OwnerEmail != "new@acme.test" || *after.OwnerName != "Acme" {
					t.Errorf("got email %v name %v, want new@acme.test and Acme", after.OwnerEmail, after.OwnerName)
				}
			}},
		{"null clears expiry", latchkey.KeyUpdate{ExpiresAt: latchkey.Null[time.Time]()}, []string{"expires_at"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.ExpiresAt != nil {
					t.Errorf("got %v, want nil", after.ExpiresAt)
				}
			}},
		{"value sets expiry", latchkey.KeyUpdate{ExpiresAt: latchkey.Some(newExpiry)}, []string{"expires_at"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.ExpiresAt == nil || !after.ExpiresAt.Equal(newExpiry) {
					t.Errorf("got %v, want %v", after.ExpiresAt, newExpiry)
				}
			}},
		{"past expiry expires", latchkey.KeyUpdate{ExpiresAt: latchkey.Some(e.clock.Now().Add(-time.Second))}, []string{"expires_at"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.Status != latchkey.StatusExpired {
					t.Errorf("status: got %q, want expired", after.Status)
				}
			}},
		{"null clears rate limit", latchkey.KeyUpdate{RateLimit: latchkey.Null[latchkey.RateLimit]()}, []string{"rate_limit"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.RateLimit != nil {
					t.Errorf("got %v, want nil", after.RateLimit)
				}
			}},
		{"value sets rate limit", latchkey.KeyUpdate{RateLimit: latchkey.Some(latchkey.RateLimit{Limit: 5, WindowSeconds: 60})}, []string{"rate_limit"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.RateLimit == nil || *after.RateLimit != (latchkey.RateLimit{Limit: 5, WindowSeconds: 60}) {
					t.Errorf("got %v, want 5/60", after.RateLimit)
				}
			}},
		{"null clears credits", latchkey.KeyUpdate{Credits: latchkey.Null[latchkey.Credits]()}, []string{"credits"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.Credits != nil {
					t.Errorf("got %v, want nil", after.Credits)
				}
			}},
		{"value sets credits", latchkey.KeyUpdate{Credits: latchkey.Some(latchkey.Credits{Remaining: 7})}, []string{"credits"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.Credits == nil || after.Credits.Remaining != 7 || after.Credits.RefillAmount != nil {
					t.Errorf("got %+v, want 7 and no refill", after.Credits)
				}
			}},
		{"null meta becomes {}", latchkey.KeyUpdate{Meta: latchkey.Null[json.RawMessage]()}, []string{"meta"},
			func(t *testing.T, before, after *latchkey.Key) {
				if string(after.Meta) != "{}" {
					t.Errorf("got %s, want {}", after.Meta)
				}
			}},
		{"value sets meta", latchkey.KeyUpdate{Meta: latchkey.Some(json.RawMessage(`{"plan": "free", "n": 1}`))}, []string{"meta"},
			func(t *testing.T, before, after *latchkey.Key) {
				if string(after.Meta) != `{"plan":"free","n":1}` {
					t.Errorf("got %s, want the compacted object", after.Meta)
				}
			}},
		{"disable", latchkey.KeyUpdate{Enabled: ptr(false)}, []string{"enabled"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.Enabled || after.Status != latchkey.StatusDisabled {
					t.Errorf("got enabled %v status %q, want false, disabled", after.Enabled, after.Status)
				}
			}},
		{"several fields", latchkey.KeyUpdate{Description: ptr("d2"), MaxDevices: ptr(int64(0)), Permissions: &[]string{"write"}},
			[]string{"description", "max_devices", "permissions"},
			func(t *testing.T, before, after *latchkey.Key) {
				if after.Description != "d2" || after.MaxDevices != 0 || !reflect.DeepEqual(after.Permissions, []string{"write"}) {
					t.Errorf("got %s", dump(after))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, secret := MustCreateKey(t, s, a.ID, fullKey())
			e.clock.Add(time.Minute)
			u := tt.u
			after := MustUpdateKey(t, s, a.ID, before.ID, &u)
			if !after.UpdatedAt.Equal(e.clock.Now()) || !after.CreatedAt.Equal(before.CreatedAt) {
				t.Errorf("updated_at: got %v, want %v (created_at kept)", after.UpdatedAt, e.clock.Now())
			}
			tt.check(t, before, after)
			if got := MustFindKey(t, s, a.ID, before.ID); !reflect.DeepEqual(got, after) {
				t.Errorf("stored:\ngot  %s\nwant %s", dump(got), dump(after))
			}
			events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, KeyID: &before.ID, Action: ptr(latchkey.ActionKeyUpdate)})
			if len(events) != 1 {
				t.Fatalf("update events: got %d, want 1", len(events))
			}
			var names []string
			for n, c := range events[0].Changes {
				names = append(names, n)
				if string(c.Before) == string(c.After) {
					t.Errorf("change %s: before equals after (%s)", n, c.Before)
				}
			}
			sort.Strings(names)
			if !reflect.DeepEqual(names, tt.changed) {
				t.Errorf("changed fields: got %v, want %v", names, tt.changed)
			}
			if raw, _ := json.Marshal(events[0]); strings.Contains(string(raw), secret) {
				t.Error("audit event contains the secret")
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		k, _ := MustCreateKey(t, s, a.ID, fullKey())
		_, err := s.UpdateKey(ctx, a.ID, k.ID, &latchkey.KeyUpdate{OwnerEmail: latchkey.Some("nope")})
		wantCode(t, err, latchkey.EINVALID)
		_, err = s.UpdateKey(ctx, a.ID, k.ID, nil)
		wantCode(t, err, latchkey.EINVALID)
		_, err = s.UpdateKey(ctx, a.ID, 9999, &latchkey.KeyUpdate{Name: ptr("x")})
		wantCode(t, err, latchkey.ENOTFOUND)
		if got := MustFindKey(t, s, a.ID, k.ID); !reflect.DeepEqual(got, k) {
			t.Errorf("after failed updates: got %s, want it unchanged", dump(got))
		}
	})
}

// testUpdateKeyPermissions checks a key's permissions are replaced, and only with catalogue names.
func testUpdateKeyPermissions(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read", "write", "admin")
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})

	got := MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Permissions: &[]string{"write", "admin", "write"}})
	if want := []string{"admin", "write"}; !reflect.DeepEqual(got.Permissions, want) {
		t.Errorf("replace: got %v, want %v", got.Permissions, want)
	}
	_, err := s.UpdateKey(ctx, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("x"), Permissions: &[]string{"read", "nope"}})
	wantCode(t, err, latchkey.EINVALID)
	if msg := latchkey.ErrorFields(err)["permissions"]; !strings.Contains(msg, `"nope"`) {
		t.Errorf("unknown permission message: got %q, want it to name \"nope\"", msg)
	}
	if got := MustFindKey(t, s, a.ID, k.ID); got.Name != "" || !reflect.DeepEqual(got.Permissions, []string{"admin", "write"}) {
		t.Errorf("after a refused update: got name %q permissions %v, want them unchanged", got.Name, got.Permissions)
	}
	got = MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Permissions: &[]string{}})
	if got.Permissions == nil || len(got.Permissions) != 0 {
		t.Errorf("clear: got %v, want []", got.Permissions)
	}

	root, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Kind: latchkey.KindRoot})
	got = MustUpdateKey(t, s, a.ID, root.ID, &latchkey.KeyUpdate{Permissions: &[]string{latchkey.PermAuditRead}})
	if !reflect.DeepEqual(got.Permissions, []string{"audit:read"}) {
		t.Errorf("root: got %v, want [audit:read]", got.Permissions)
	}
	_, err = s.UpdateKey(ctx, a.ID, root.ID, &latchkey.KeyUpdate{Permissions: &[]string{"read"}})
	wantCode(t, err, latchkey.EINVALID)
}

// testUpdateKeyNoChange checks an update that changes nothing writes and announces nothing.
func testUpdateKeyNoChange(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "same", OwnerEmail: ptr("o@acme.test")})
	rec := MustSubscribe(t, s)
	e.clock.Add(time.Minute)
	got := MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("same"), OwnerEmail: latchkey.Some("o@acme.test"), Enabled: ptr(true)})
	if !reflect.DeepEqual(got, k) {
		t.Errorf("got %s, want the key unchanged (updated_at too)", dump(got))
	}
	if n := countEvents(t, s, a.ID, latchkey.ActionKeyUpdate); n != 0 {
		t.Errorf("update events: got %d, want 0", n)
	}
	if c := rec.take(); len(c) != 0 {
		t.Errorf("change feed: got %v, want nothing", c)
	}
}

// testRevokeAndUnrevoke checks revoking stamps the key and its reason once, and un-revoking clears both.
func testRevokeAndUnrevoke(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	k, secret := MustCreateKey(t, s, a.ID, nil)
	t0 := e.clock.Now()

	got, err := s.RevokeKey(ctx, a.ID, k.ID, "left the plan")
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if got.Status != latchkey.StatusRevoked || got.RevokedAt == nil || !got.RevokedAt.Equal(t0) || got.RevokedReason == nil || *got.RevokedReason != "left the plan" {
		t.Fatalf("revoked: got %s, want revoked at %v for left the plan", dump(got), t0)
	}
	vk, err := s.FindVerifyKey(ctx, latchkey.HashSecret(secret))
	if err != nil || vk.RevokedAt == nil || vk.StatusAt(e.clock.Now()) != latchkey.StatusRevoked {
		t.Errorf("FindVerifyKey: got %+v, %v, want revoked", vk, err)
	}

	e.clock.Add(time.Hour)
	got, err = s.RevokeKey(ctx, a.ID, k.ID, "")
	if err != nil || !got.RevokedAt.Equal(t0) || got.RevokedReason == nil || *got.RevokedReason != "left the plan" {
		t.Errorf("revoke again without reason: got %s, %v, want the first stamp and reason kept", dump(got), err)
	}
	got = MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Revoked: ptr(true), RevokedReason: latchkey.Some("fraud")})
	if !got.RevokedAt.Equal(t0) || *got.RevokedReason != "fraud" {
		t.Errorf("revoked:true with reason: got %v %v, want %v fraud", got.RevokedAt, *got.RevokedReason, t0)
	}

	got = MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Revoked: ptr(false)})
	if got.RevokedAt != nil || got.RevokedReason != nil || got.Status != latchkey.StatusActive {
		t.Errorf("revoked:false: got %s, want un-revoked with no reason", dump(got))
	}

	got = MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Revoked: ptr(true)})
	if got.RevokedAt == nil || !got.RevokedAt.Equal(e.clock.Now()) || got.RevokedReason != nil {
		t.Errorf("revoked:true without reason: got %v %v, want stamped now with no reason", got.RevokedAt, got.RevokedReason)
	}
	got = MustUpdateKey(t, s, a.ID, k.ID, &latchkey.KeyUpdate{Revoked: ptr(false), RevokedReason: latchkey.Some("was a mistake")})
	if got.RevokedAt != nil || got.RevokedReason == nil || *got.RevokedReason != "was a mistake" {
		t.Errorf("revoked:false with reason: got %v %v, want un-revoked with the reason", got.RevokedAt, got.RevokedReason)
	}

	_, err = s.RevokeKey(ctx, a.ID, 9999, "x")
	wantCode(t, err, latchkey.ENOTFOUND)
	_, err = s.RevokeKey(ctx, a.ID, k.ID, strings.Repeat("x", 501))
	wantCode(t, err, latchkey.EINVALID)
	if _, ok := latchkey.ErrorFields(err)["reason"]; !ok {
		t.Errorf("fields: got %v, want reason", latchkey.ErrorFields(err))
	}

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, Action: ptr(latchkey.ActionKeyRevoke)})
	if len(events) != 1 || string(events[0].Changes["revoked_reason"].After) != `"left the plan"` ||
		string(events[0].Changes["revoked_at"].Before) != "null" {
		t.Errorf("revoke events: got %s, want one with revoked_at and the reason", dump(events))
	}
}

// testRotateKey checks a rotation gives a new secret and lets the old one live out the grace.
func testRotateKey(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read")
	k, s1 := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "rotating", Permissions: []string{"read"}, MaxDevices: 3})
	status := func(secret string) latchkey.Status {
		t.Helper()
		vk, err := s.FindVerifyKey(ctx, latchkey.HashSecret(secret))
		if err != nil {
			t.Fatalf("FindVerifyKey: %v", err)
		}
		if vk.KeyID != k.ID {
			t.Fatalf("FindVerifyKey: got key %d, want %d", vk.KeyID, k.ID)
		}
		return vk.StatusAt(e.clock.Now())
	}

	revoked, _ := MustCreateKey(t, s, a.ID, nil)
	if _, err := s.RevokeKey(ctx, a.ID, revoked.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateKey(ctx, a.ID, revoked.ID, 0); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		t.Errorf("rotate a revoked key: got %v, want conflict", err)
	}

	e.clock.Add(time.Minute)
	k2, s2, err := s.RotateKey(ctx, a.ID, k.ID, 0)
	if err != nil {
		t.Fatalf("RotateKey(0): %v", err)
	}
	if s2 == s1 || !latchkey.CheckSecret(s2) || k2.Start != latchkey.SecretStart(s2) {
		t.Errorf("new secret: got start %q, want a fresh valid secret shown by start", k2.Start)
	}
	if k2.ID != k.ID || k2.Name != "rotating" || !reflect.DeepEqual(k2.Permissions, k.Permissions) || k2.MaxDevices != 3 {
		t.Errorf("settings after rotate: got %s, want them kept", dump(k2))
	}
	if got := status(s1); got != latchkey.StatusExpired {
		t.Errorf("old secret with grace 0: got %q, want expired", got)
	}
	if got := status(s2); got != latchkey.StatusActive {
		t.Errorf("new secret: got %q, want active", got)
	}

	_, s3, err := s.RotateKey(ctx, a.ID, k.ID, time.Hour)
	if err != nil {
		t.Fatalf("RotateKey(1h): %v", err)
	}
	if got := status(s2); got != latchkey.StatusActive {
		t.Errorf("old secret within grace: got %q, want active", got)
	}
	vk, _ := s.FindVerifyKey(ctx, latchkey.HashSecret(s2))
	if want := e.clock.Now().Add(time.Hour); vk.SecretExpiresAt == nil || !vk.SecretExpiresAt.Equal(want) {
		t.Errorf("grace end: got %v, want %v", vk.SecretExpiresAt, want)
	}
	vk1, _ := s.FindVerifyKey(ctx, latchkey.HashSecret(s1))
	if want := e.clock.Now(); vk1.SecretExpiresAt == nil || !vk1.SecretExpiresAt.Equal(want) {
		t.Errorf("an already expired secret: got end %v, want %v kept", vk1.SecretExpiresAt, want)
	}
	e.clock.Add(time.Hour)
	if got := status(s2); got != latchkey.StatusExpired {
		t.Errorf("old secret after grace: got %q, want expired", got)
	}
	if got := status(s3); got != latchkey.StatusActive {
		t.Errorf("newest secret: got %q, want active", got)
	}
	if got := status(s1); got != latchkey.StatusExpired {
		t.Errorf("first secret: got %q, want expired (not not_found)", got)
	}
	if got, err := s.FindKeyBySecret(ctx, a.ID, latchkey.HashSecret(s1)); err != nil || got.ID != k.ID {
		t.Errorf("FindKeyBySecret(old secret): got %v, %v, want key %d", got, err, k.ID)
	}

	_, _, err = s.RotateKey(ctx, a.ID, k.ID, -time.Second)
	wantCode(t, err, latchkey.EINVALID)
	_, _, err = s.RotateKey(ctx, a.ID, 9999, 0)
	wantCode(t, err, latchkey.ENOTFOUND)

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, Action: ptr(latchkey.ActionKeyRotate)})
	if len(events) != 2 || string(events[0].Changes["grace_seconds"].After) != "3600" {
		t.Errorf("rotate events: got %s, want two, the newest with grace 3600", dump(events))
	}
	raw, _ := json.Marshal(events)
	for _, secret := range []string{s1, s2, s3} {
		if strings.Contains(string(raw), secret) {
			t.Error("a rotate event contains a secret")
		}
	}
}

// testDeleteKey checks a deleted key, its secrets, devices and usage are gone, and other keys stay.
func testDeleteKey(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	MustCreatePermission(t, s, a.ID, "read")
	k, s1 := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	keep, keepSecret := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Permissions: []string{"read"}})
	_, s2, err := s.RotateKey(ctx, a.ID, k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddDevice(ctx, k.ID, "phone", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushUsage(ctx, &latchkey.UsageBatch{Counts: []latchkey.UsageCount{
		{KeyID: k.ID, Minute: e.clock.Now(), Code: latchkey.CodeValid, Count: 3}}}); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteKey(ctx, a.ID, k.ID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	_, err = s.FindKeyByID(ctx, a.ID, k.ID)
	wantCode(t, err, latchkey.ENOTFOUND)
	for _, secret := range []string{s1, s2} {
		_, err = s.FindVerifyKey(ctx, latchkey.HashSecret(secret))
		wantCode(t, err, latchkey.ENOTFOUND)
	}
	_, err = s.FindDevices(ctx, a.ID, k.ID)
	wantCode(t, err, latchkey.ENOTFOUND)
	wantCode(t, s.DeleteKey(ctx, a.ID, k.ID), latchkey.ENOTFOUND)

	db := MustDB(t, b, e.dsn)
	for _, table := range []string{"key_secrets", "key_permissions", "key_root_permissions", "devices", "key_usage"} {
		var n int
		if err := db.QueryRow(fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE key_id = %d`, table, k.ID)).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("%s rows of the deleted key: got %d, want 0", table, n)
		}
	}

	if got := MustFindKey(t, s, a.ID, keep.ID); !reflect.DeepEqual(got, keep) {
		t.Errorf("other key: got %s, want it unchanged", dump(got))
	}
	if _, err := s.FindVerifyKey(ctx, latchkey.HashSecret(keepSecret)); err != nil {
		t.Errorf("other key's secret: %v", err)
	}
	if perms, _ := s.FindPermissions(ctx, a.ID); len(perms) != 1 {
		t.Errorf("catalogue: got %d permissions, want 1", len(perms))
	}
	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID, KeyID: &k.ID, Action: ptr(latchkey.ActionKeyDelete)})
	if len(events) != 1 || string(events[0].Changes["permissions"].Before) != `["read"]` || string(events[0].Changes["permissions"].After) != "null" {
		t.Errorf("delete events: got %s, want one recording what was deleted", dump(events))
	}
}

// testFindKeysFilters checks each KeyFilter field.
func testFindKeysFilters(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	now := e.clock.Now()
	active, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "Acme Prod", OwnerEmail: ptr("ops@acme.test")})
	disabled, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "staging", Enabled: ptr(false), OwnerEmail: ptr("ops@acme.test")})
	expired, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "old", ExpiresAt: ptr(now.Add(-time.Second))})
	revoked, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "gone", Enabled: ptr(false), ExpiresAt: ptr(now.Add(-time.Second))})
	if _, err := s.RevokeKey(ctx, a.ID, revoked.ID, ""); err != nil {
		t.Fatal(err)
	}
	soon, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "soon", Description: "100% off_sale", ExpiresAt: ptr(now.Add(time.Minute))})
	root, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Kind: latchkey.KindRoot, Name: "ops root", OwnerName: ptr("ACME Operations")})

	st := func(s latchkey.Status) *latchkey.Status { return &s }
	kind := func(k latchkey.KeyKind) *latchkey.KeyKind { return &k }
	tests := []struct {
		name    string
		advance time.Duration
		f       latchkey.KeyFilter
		want    []int64
	}{
		{"all", 0, latchkey.KeyFilter{}, []int64{root.ID, soon.ID, revoked.ID, expired.ID, disabled.ID, active.ID}},
		{"active", 0, latchkey.KeyFilter{Status: st(latchkey.StatusActive)}, []int64{root.ID, soon.ID, active.ID}},
		{"disabled", 0, latchkey.KeyFilter{Status: st(latchkey.StatusDisabled)}, []int64{disabled.ID}},
		{"expired", 0, latchkey.KeyFilter{Status: st(latchkey.StatusExpired)}, []int64{expired.ID}},
		{"revoked", 0, latchkey.KeyFilter{Status: st(latchkey.StatusRevoked)}, []int64{revoked.ID}},
		{"expired later", 2 * time.Minute, latchkey.KeyFilter{Status: st(latchkey.StatusExpired)}, []int64{soon.ID, expired.ID}},
		{"kind root", 0, latchkey.KeyFilter{Kind: kind(latchkey.KindRoot)}, []int64{root.ID}},
		{"owner email", 0, latchkey.KeyFilter{OwnerEmail: ptr("ops@acme.test")}, []int64{disabled.ID, active.ID}},
		{"owner email and status", 0, latchkey.KeyFilter{OwnerEmail: ptr("ops@acme.test"), Status: st(latchkey.StatusActive)}, []int64{active.ID}},
		{"q in name, owner email or owner name, any case", 0, latchkey.KeyFilter{Query: ptr("acme")}, []int64{root.ID, disabled.ID, active.ID}},
		{"q in description", 0, latchkey.KeyFilter{Query: ptr("SALE")}, []int64{soon.ID}},
		{"q in owner email", 0, latchkey.KeyFilter{Query: ptr("OPS@")}, []int64{disabled.ID, active.ID}},
		{"q with % is literal", 0, latchkey.KeyFilter{Query: ptr("100%")}, []int64{soon.ID}},
		{"q with _ is literal", 0, latchkey.KeyFilter{Query: ptr("f_s")}, []int64{soon.ID}},
		{"q matching nothing", 0, latchkey.KeyFilter{Query: ptr("zzz")}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Add(tt.advance)
			f := tt.f
			f.AccountID = a.ID
			keys, next, err := s.FindKeys(ctx, f)
			if err != nil {
				t.Fatalf("FindKeys: %v", err)
			}
			got := []int64{}
			for _, k := range keys {
				got = append(got, k.ID)
				if k.Status != k.StatusAt(e.clock.Now()) {
					t.Errorf("key %d: status %q, want it derived at now", k.ID, k.Status)
				}
				if f.Status != nil && k.Status != *f.Status {
					t.Errorf("key %d: status %q under filter %q", k.ID, k.Status, *f.Status)
				}
			}
			if !reflect.DeepEqual(got, tt.want) || next != "" {
				t.Errorf("got %v next %q, want %v and no next page", got, next, tt.want)
			}
		})
	}
}

// testFindKeysPagination checks pages are newest first, complete, without repeats, and of one account only.
func testFindKeysPagination(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	other := MustCreateAccount(t, s, "other")
	var all []int64
	for i := 0; i < 23; i++ {
		k, _ := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: fmt.Sprintf("k%02d", i), Enabled: ptr(i%3 != 0)})
		all = append(all, k.ID)
		MustCreateKey(t, s, other.ID, nil) // interleaved ids of another account
	}
	sort.Slice(all, func(i, j int) bool { return all[i] > all[j] })

	page := func(f latchkey.KeyFilter) (pages [][]int64) {
		t.Helper()
		seen := map[int64]bool{}
		for n := 0; ; n++ {
			if n > 100 {
				t.Fatal("pagination does not end")
			}
			keys, next, err := s.FindKeys(ctx, f)
			if err != nil {
				t.Fatalf("FindKeys page %d: %v", n, err)
			}
			var ids []int64
			for _, k := range keys {
				if seen[k.ID] {
					t.Errorf("key %d on two pages", k.ID)
				}
				seen[k.ID] = true
				ids = append(ids, k.ID)
			}
			pages = append(pages, ids)
			if n == 0 {
				// A key created mid-listing is newer than every page: it
				// must not show up on later pages.
				MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "late", Enabled: ptr(false)})
			}
			if next == "" {
				return pages
			}
			f.Cursor = next
		}
	}

	pages := page(latchkey.KeyFilter{AccountID: a.ID, Limit: 5})
	var sizes []int
	var got []int64
	for _, p := range pages {
		sizes = append(sizes, len(p))
		got = append(got, p...)
	}
	if !reflect.DeepEqual(sizes, []int{5, 5, 5, 5, 3}) {
		t.Errorf("page sizes: got %v, want [5 5 5 5 3]", sizes)
	}
	if !reflect.DeepEqual(got, all) {
		t.Errorf("ids: got %v, want %v (newest first, each once)", got, all)
	}

	var enabled []int64
	for i, id := range all {
		if (22-i)%3 != 0 {
			enabled = append(enabled, id)
		}
	}
	active := latchkey.StatusActive
	got = nil
	pages = page(latchkey.KeyFilter{AccountID: a.ID, Limit: 4, Status: &active})
	for _, p := range pages {
		got = append(got, p...)
	}
	if len(pages) < 3 || !reflect.DeepEqual(got, enabled) {
		t.Errorf("filtered pages: got %v in %d pages, want %v", got, len(pages), enabled)
	}

	keys, next, err := s.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID})
	if err != nil || len(keys) != 25 || next != "" {
		t.Errorf("default limit: got %d keys next %q, %v, want 25 and no next", len(keys), next, err)
	}
	keys, next, err = s.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID, Limit: 25})
	if err != nil || len(keys) != 25 || next != "" {
		t.Errorf("limit equal to the count: got %d keys next %q, %v, want 25 and no next", len(keys), next, err)
	}
	keys, _, err = s.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID, Limit: 1000})
	if err != nil || len(keys) != 25 {
		t.Errorf("limit 1000: got %d keys, %v, want 25", len(keys), err)
	}
}

// testFindKeysInvalid checks bad limits, cursors and filters are refused as invalid.
func testFindKeysInvalid(t *testing.T, b backend) {
	_, s, a := MustAcme(t, b)
	bad := latchkey.Status("lost")
	badKind := latchkey.KeyKind("admin")
	tests := []struct {
		name  string
		f     latchkey.KeyFilter
		field string
	}{
		{"negative limit", latchkey.KeyFilter{Limit: -1}, "limit"},
		{"limit over 1000", latchkey.KeyFilter{Limit: 1001}, "limit"},
		{"garbage cursor", latchkey.KeyFilter{Cursor: "not a cursor!"}, "cursor"},
		{"base64 of garbage", latchkey.KeyFilter{Cursor: "aGVsbG8"}, "cursor"},
		{"audit cursor", latchkey.KeyFilter{Cursor: sqldb.EncodeAuditCursor(5)}, "cursor"},
		{"bad status", latchkey.KeyFilter{Status: &bad}, "status"},
		{"bad kind", latchkey.KeyFilter{Kind: &badKind}, "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AccountID = a.ID
			_, _, err := s.FindKeys(ctx, f)
			wantCode(t, err, latchkey.EINVALID)
			if _, ok := latchkey.ErrorFields(err)[tt.field]; !ok {
				t.Errorf("fields: got %v, want %q", latchkey.ErrorFields(err), tt.field)
			}
		})
	}
}

// testConcurrentWriters checks many writers through two stores lose and fail nothing.
func testConcurrentWriters(t *testing.T, b backend) {
	e := MustEnv(t, b)
	a := MustCreateAccount(t, e.store, "acme")
	MustCreatePermission(t, e.store, a.ID, "read")
	// Half the writers go through a second store on the same database, as
	// a second process would.
	const workers, each = 8, 50
	ids := make(chan int64, workers*each)
	errs := race(workers, MustTwoStores(t, e), func(w int, s *sqldb.Store) error {
		for i := 0; i < each; i++ {
			k, _, err := s.CreateKey(ctx, a.ID, &latchkey.KeyCreate{Name: fmt.Sprintf("w%d-%d", w, i)})
			if err != nil {
				return fmt.Errorf("CreateKey: %w", err)
			}
			if _, err := s.UpdateKey(ctx, a.ID, k.ID, &latchkey.KeyUpdate{
				Description: ptr("updated"), Permissions: &[]string{"read"}}); err != nil {
				return fmt.Errorf("UpdateKey: %w", err)
			}
			if _, err := s.FindKeyByID(ctx, a.ID, k.ID); err != nil {
				return fmt.Errorf("FindKeyByID: %w", err)
			}
			ids <- k.ID
		}
		return nil
	})
	close(ids)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{}
	for id := range ids {
		want[id] = true
	}
	keys, _, err := e.store.FindKeys(ctx, latchkey.KeyFilter{AccountID: a.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != workers*each || len(want) != workers*each {
		t.Fatalf("keys: got %d listed, %d distinct created, want %d", len(keys), len(want), workers*each)
	}
	for _, k := range keys {
		if !want[k.ID] || k.Description != "updated" || len(k.Permissions) != 1 {
			t.Fatalf("key %d: got %s, want it created and updated", k.ID, dump(k))
		}
	}
}

// dump is v as JSON, for failure messages and comparisons.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// testConcurrentSameKey races every kind of write on the same few keys, from
// two stores on one database: updates, credit top-ups, rotations, device
// registrations and usage flushes. None may fail or deadlock, and none may
// lose another's write: every flushed spend and count and every device is
// there at the end.
func testConcurrentSameKey(t *testing.T, b backend) {
	e := MustEnv(t, b)
	a := MustCreateAccount(t, e.store, "acme")
	other := MustOpen(t, e.dsn, e.clock.Now)
	const keys, rounds = 3, 30
	ids := make([]int64, keys)
	for i := range ids {
		k, _ := MustCreateKey(t, e.store, a.ID, &latchkey.KeyCreate{MaxDevices: 1000, Credits: &latchkey.Credits{Remaining: 1 << 30}})
		ids[i] = k.ID
	}
	minute := e.clock.Now().Truncate(time.Minute)
	var wg sync.WaitGroup
	run := func(name string, fn func(s *sqldb.Store, i int) error) {
		for w, s := range []*sqldb.Store{e.store, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					if err := fn(s, w*rounds+i); err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
				}
			}()
		}
	}
	run("UpdateKey", func(s *sqldb.Store, i int) error {
		_, err := s.UpdateKey(ctx, a.ID, ids[i%keys], &latchkey.KeyUpdate{Description: ptr(fmt.Sprint(i))})
		return err
	})
	run("RotateKey", func(s *sqldb.Store, i int) error {
		_, _, err := s.RotateKey(ctx, a.ID, ids[i%keys], time.Hour)
		return err
	})
	run("AddDevice", func(s *sqldb.Store, i int) error {
		return s.AddDevice(ctx, ids[i%keys], fmt.Sprintf("dev-%d", i), 1000)
	})
	run("FlushUsage", func(s *sqldb.Store, i int) error {
		b := &latchkey.UsageBatch{}
		for _, id := range ids {
			b.Keys = append(b.Keys, latchkey.KeyUsage{KeyID: id, LastUsedAt: minute, CreditsSpent: 1})
			b.Counts = append(b.Counts, latchkey.UsageCount{KeyID: id, Minute: minute, Code: latchkey.CodeValid, Count: 1})
		}
		return s.FlushUsage(ctx, b)
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, id := range ids {
		k := MustFindKey(t, e.store, a.ID, id)
		if want := int64(1<<30 - 2*rounds); k.Credits == nil || k.Credits.Remaining != want {
			t.Errorf("key %d: credits %+v, want %d remaining (every flushed spend)", id, k.Credits, want)
		}
		u, err := e.store.FindUsage(ctx, a.ID, id, latchkey.UsageFilter{Since: minute, Until: minute.Add(time.Minute), Bucket: time.Minute})
		if err != nil || len(u) != 1 || u[0].Counts["VALID"] != 2*rounds {
			t.Errorf("key %d: usage %s, %v; want %d VALID", id, dump(u), err, 2*rounds)
		}
		devs, err := e.store.FindDevices(ctx, a.ID, id)
		if err != nil || len(devs) != 2*rounds/keys {
			t.Errorf("key %d: %d devices, %v; want %d", id, len(devs), err, 2*rounds/keys)
		}
	}
}
