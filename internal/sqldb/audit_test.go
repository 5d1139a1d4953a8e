package sqldb_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// testAudit checks each key mutation's event: action, actor, changes, and no secret.
func testAudit(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	e.clock.Add(time.Second)
	actx := latchkey.NewContextWithActor(ctx, testActor)
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		e.clock.Add(time.Second)
	}
	step("CreatePermission", s.CreatePermission(actx, &latchkey.Permission{AccountID: a.ID, Name: "read"}))
	k, secret, err := s.CreateKey(actx, a.ID, &latchkey.KeyCreate{Name: "audited", Permissions: []string{"read"}})
	step("CreateKey", err)
	_, err = s.UpdateKey(actx, a.ID, k.ID, &latchkey.KeyUpdate{Name: ptr("renamed"), OwnerEmail: latchkey.Some("x@acme.test")})
	step("UpdateKey", err)
	_, secret2, err := s.RotateKey(actx, a.ID, k.ID, time.Minute)
	step("RotateKey", err)
	_, err = s.RevokeKey(actx, a.ID, k.ID, "testing")
	step("RevokeKey", err)
	step("AddDevice", s.AddDevice(actx, k.ID, "laptop", 0))
	step("DeleteDevice", s.DeleteDevice(actx, a.ID, k.ID, "laptop"))
	step("DeleteKey", s.DeleteKey(actx, a.ID, k.ID))
	step("DeletePermission", s.DeletePermission(actx, a.ID, "read"))

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	want := []string{latchkey.ActionPermissionDelete, latchkey.ActionKeyDelete, latchkey.ActionDeviceDelete, latchkey.ActionKeyRevoke,
		latchkey.ActionKeyRotate, latchkey.ActionKeyUpdate, latchkey.ActionKeyCreate, latchkey.ActionPermissionCreate, latchkey.ActionAccountCreate}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("actions: got %v, want %v", actions, want)
	}
	for i, ev := range events[:len(events)-1] {
		if ev.ActorKind != latchkey.ActorUser || ev.ActorID != 7 || ev.IP != testActor.IP || ev.UserAgent != testActor.UserAgent {
			t.Errorf("%s: actor %s/%d ip %q agent %q, want the context's actor", ev.Action, ev.ActorKind, ev.ActorID, ev.IP, ev.UserAgent)
		}
		if ev.AccountID != a.ID || ev.Time.IsZero() {
			t.Errorf("%s: account %d time %v", ev.Action, ev.AccountID, ev.Time)
		}
		if next := events[i+1]; !ev.Time.After(next.Time) || ev.ID <= next.ID {
			t.Errorf("%s: not newer than %s", ev.Action, next.Action)
		}
	}
	if sys := events[len(events)-1]; sys.ActorKind != latchkey.ActorSystem {
		t.Errorf("account create without an actor: got %q, want system", sys.ActorKind)
	}

	update := events[5]
	wantChanges := map[string]latchkey.Change{
		"name":        {Before: json.RawMessage(`"audited"`), After: json.RawMessage(`"renamed"`)},
		"owner_email": {Before: json.RawMessage(`null`), After: json.RawMessage(`"x@acme.test"`)},
	}
	if !reflect.DeepEqual(update.Changes, wantChanges) || update.TargetType != "key" || update.TargetID != dump(k.ID) {
		t.Errorf("update event: got %s, want changes %s on key %d", dump(update), dump(wantChanges), k.ID)
	}
	create := events[6]
	if string(create.Changes["name"].After) != `"audited"` || string(create.Changes["permissions"].After) != `["read"]` ||
		string(create.Changes["kind"].After) != `"api"` {
		t.Errorf("create event: got %s, want the new key's fields", dump(create.Changes))
	}

	raw, _ := json.Marshal(events)
	for _, sec := range []string{secret, secret2} {
		h := latchkey.HashSecret(sec)
		for what, needle := range map[string]string{
			"secret":         sec,
			"secret body":    sec[3:20],
			"hash (hex)":     hex.EncodeToString(h[:]),
			"hash (base64)":  base64.StdEncoding.EncodeToString(h[:]),
			"secret's start": latchkey.SecretStart(sec),
		} {
			if strings.Contains(string(raw), needle) {
				t.Errorf("the audit log contains a %s", what)
			}
		}
	}
}

// testAuditFilters checks every AuditFilter field and the paging of the audit log.
func testAuditFilters(t *testing.T, b backend) {
	e, s, a := MustAcme(t, b)
	alice := latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorUser, ID: 1})
	rootKey := latchkey.NewContextWithActor(ctx, latchkey.Actor{Kind: latchkey.ActorRootKey, ID: 99})
	e.clock.Add(time.Second)
	start := e.clock.Now()
	k1, _, err := s.CreateKey(alice, a.ID, &latchkey.KeyCreate{})
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := s.CreateKey(rootKey, a.ID, &latchkey.KeyCreate{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		e.clock.Add(time.Minute)
		MustUpdateKey(t, s, a.ID, k1.ID, &latchkey.KeyUpdate{Name: ptr(dump(i))})
		if _, err := s.UpdateKey(rootKey, a.ID, k2.ID, &latchkey.KeyUpdate{Name: ptr(dump(i))}); err != nil {
			t.Fatal(err)
		}
	}
	mid := start.Add(2 * time.Minute)

	userKind, rootKind := latchkey.ActorUser, latchkey.ActorRootKey
	tests := []struct {
		name string
		f    latchkey.AuditFilter
		want int
		ok   func(ev *latchkey.AuditEvent) bool
	}{
		{"all", latchkey.AuditFilter{}, 11, func(ev *latchkey.AuditEvent) bool { return true }},
		{"key", latchkey.AuditFilter{KeyID: &k1.ID}, 5, func(ev *latchkey.AuditEvent) bool { return ev.TargetID == dump(k1.ID) }},
		{"actor kind", latchkey.AuditFilter{ActorKind: &rootKind}, 5, func(ev *latchkey.AuditEvent) bool { return ev.ActorKind == rootKind }},
		{"actor", latchkey.AuditFilter{ActorKind: &userKind, ActorID: ptr(int64(1))}, 1, func(ev *latchkey.AuditEvent) bool { return ev.ActorID == 1 }},
		{"action", latchkey.AuditFilter{Action: ptr(latchkey.ActionKeyCreate)}, 2, func(ev *latchkey.AuditEvent) bool { return ev.Action == latchkey.ActionKeyCreate }},
		{"since", latchkey.AuditFilter{Since: &mid}, 6, func(ev *latchkey.AuditEvent) bool { return !ev.Time.Before(mid) }},
		{"until", latchkey.AuditFilter{Until: &mid}, 5, func(ev *latchkey.AuditEvent) bool { return ev.Time.Before(mid) }},
		{"key and window", latchkey.AuditFilter{KeyID: &k2.ID, Since: &start, Until: &mid}, 2, func(ev *latchkey.AuditEvent) bool { return ev.TargetID == dump(k2.ID) }},
		{"paged", latchkey.AuditFilter{Limit: 2}, 11, func(ev *latchkey.AuditEvent) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.AccountID = a.ID
			events := MustAuditEvents(t, s, f)
			if len(events) != tt.want {
				t.Errorf("events: got %d, want %d", len(events), tt.want)
			}
			seen := map[int64]bool{}
			for i, ev := range events {
				if !tt.ok(ev) {
					t.Errorf("event %s does not match the filter", dump(ev))
				}
				if seen[ev.ID] || i > 0 && ev.ID >= events[i-1].ID {
					t.Errorf("event %d out of order or repeated", ev.ID)
				}
				seen[ev.ID] = true
			}
		})
	}
	page, next, err := s.FindAuditEvents(ctx, latchkey.AuditFilter{AccountID: a.ID, Limit: 4})
	if err != nil || len(page) != 4 || next == "" {
		t.Errorf("first page: got %d events next %q, %v, want 4 and a cursor", len(page), next, err)
	}
	for _, f := range []latchkey.AuditFilter{
		{AccountID: a.ID, Cursor: "%%%"},
		{AccountID: a.ID, Cursor: sqldb.EncodeKeysCursor(5)},
		{AccountID: a.ID, Limit: 1001},
		{AccountID: a.ID, Limit: -2},
	} {
		_, _, err := s.FindAuditEvents(ctx, f)
		wantCode(t, err, latchkey.EINVALID)
	}
}
