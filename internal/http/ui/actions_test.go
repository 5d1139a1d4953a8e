package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// keyFormOf is a key page's save form with every field as the page shows
// it, changed by the overrides.
func keyFormOf(b *browser, page answer, set map[string]string) url.Values {
	v := url.Values{"csrf_token": {b.token(page)}, "name": {"k"}, "enabled": {"on"}, "rate_window": {"3600"}}
	for _, f := range []string{"credits", "refill_amount", "refill_interval"} {
		if m := strings.SplitN(page.Body, `name="`+f+`_was" value="`, 2); len(m) == 2 {
			was := m[1][:strings.Index(m[1], `"`)]
			v.Set(f+"_was", was)
			v.Set(f, was)
		}
	}
	for k, val := range set {
		v.Set(k, val)
	}
	return v
}

// TestKeyPageActions: saving the form, a refused value shown next to its
// field with the form kept, credits kept when untouched, disable and
// enable, rotation with a new secret shown once, and delete.
func TestKeyPageActions(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	perms := b.get("/admin/permissions")
	if res := b.post("/admin/permissions", url.Values{"csrf_token": {b.token(perms)}, "name": {"orders:read"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("add permission: %d\n%s", res.Status, res.Body)
	}
	path, secret := createKey(t, b, url.Values{"name": {"k"}, "enabled": {"on"}, "credits": {"10"}, "permissions": {"orders:read"}})
	ctx := context.Background()
	id := path[strings.LastIndex(path, "/")+1:]
	account := int64(1)
	key := func() *latchkey.Key {
		t.Helper()
		n, _ := strconv.ParseInt(id, 10, 64)
		k, err := s.Store.FindKeyByID(ctx, account, n)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if k := key(); len(k.Permissions) != 1 || k.Credits == nil || k.Credits.Remaining != 10 {
		t.Fatalf("created key: %+v", k)
	}

	page := b.get(path)
	s.verify(t, secret) // spends a credit after the page was shown
	if err := s.Verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	res := b.post(path, keyFormOf(b, page, map[string]string{"name": "renamed", "owner_email": "a@b.test", "max_devices": "2"}))
	if res.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.Status, res.Body)
	}
	k := key()
	if k.Name != "renamed" || k.OwnerEmail == nil || *k.OwnerEmail != "a@b.test" || k.MaxDevices != 2 || len(k.Permissions) != 0 {
		t.Errorf("after save: %+v", k)
	}
	if k.Credits == nil || k.Credits.Remaining != 9 {
		t.Errorf("saving without touching credits changed them: %+v, want 9 left", k.Credits)
	}

	page = b.get(path)
	res = b.post(path, keyFormOf(b, page, map[string]string{"name": "other", "owner_email": "not an email", "rate_limit": "x"}))
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "field-error") || !strings.Contains(res.Body, `value="not an email"`) {
		t.Errorf("a bad value: %d, want 400 with the field's error and the form kept\n%s", res.Status, res.Body)
	}
	if key().Name != "renamed" {
		t.Errorf("a refused save changed the key")
	}

	page = b.get(path)
	if res := b.post(path+"/disable", url.Values{"csrf_token": {b.token(page)}}); res.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.Status)
	}
	if code := s.verify(t, secret); code != "DISABLED" {
		t.Errorf("after disable: %s", code)
	}
	if res := b.post(path+"/enable", url.Values{"csrf_token": {b.token(page)}}); res.Status != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.Status)
	}
	if code := s.verify(t, secret); code != "VALID" {
		t.Errorf("after enable: %s", code)
	}

	res = b.post(path+"/rotate", url.Values{"csrf_token": {b.token(page)}, "grace_seconds": {"0"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("rotate: %d\n%s", res.Status, res.Body)
	}
	rotated := b.get(res.Location)
	m := secretOf.FindStringSubmatch(rotated.Body)
	if m == nil || m[1] == secret {
		t.Fatalf("rotation shows no new secret")
	}
	if code := s.verify(t, m[1]); code != "VALID" {
		t.Errorf("the rotated secret: %s", code)
	}
	if code := s.verify(t, secret); code != "EXPIRED" {
		t.Errorf("the old secret with no grace: %s, want EXPIRED", code)
	}
	if again := b.get(path); secretOf.MatchString(again.Body) {
		t.Errorf("the rotated secret is shown twice")
	}

	if res := b.post(path+"/delete", url.Values{"csrf_token": {b.token(page)}}); res.Status != http.StatusBadRequest {
		t.Errorf("delete without the confirmation box: %d, want 400", res.Status)
	}
	if res := b.post(path+"/delete", url.Values{"csrf_token": {b.token(page)}, "confirm": {"yes"}}); res.Status != http.StatusSeeOther {
		t.Errorf("delete: %d", res.Status)
	}
	if res := b.get(path); res.Status != http.StatusNotFound {
		t.Errorf("a deleted key's page: %d, want 404", res.Status)
	}
}

// TestUsersPage: an admin adds a member, changes the role, resets the
// password (the old one stops working), deactivates (sign-in refused) and
// removes them; an admin cannot remove themselves.
func TestUsersPage(t *testing.T) {
	s := newSite(t)
	admin := s.setUp(t, adminEmail, adminPW)
	page := admin.get("/admin/users")
	tok := admin.token(page)
	if res := admin.post("/admin/users", url.Values{"csrf_token": {tok}, "email": {"Bob@Example.com"}, "password": {"short"}, "role": {"member"}}); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "at least 12") {
		t.Errorf("a short first password: %d\n%s", res.Status, res.Body)
	}
	if res := admin.post("/admin/users", url.Values{"csrf_token": {tok}, "email": {"Bob@Example.com"}, "password": {adminPW}, "role": {"member"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", res.Status, res.Body)
	}
	ms, err := s.Store.FindMembers(context.Background(), 1)
	if err != nil || len(ms) != 2 {
		t.Fatalf("members: %v %v", ms, err)
	}
	var bob, me *latchkey.Member
	for _, m := range ms {
		if m.Email == "bob@example.com" {
			bob = m
		} else {
			me = m
		}
	}
	if bob == nil {
		t.Fatalf("bob's email was not normalised: %+v", ms)
	}
	bobPath := "/admin/users/" + itoa(bob.ID)
	if res := admin.post(bobPath+"/role", url.Values{"csrf_token": {tok}, "role": {"admin"}}); res.Status != http.StatusSeeOther {
		t.Errorf("change role: %d\n%s", res.Status, res.Body)
	}
	newPW := "another long password"
	if res := admin.post(bobPath+"/password", url.Values{"csrf_token": {tok}, "password": {newPW}}); res.Status != http.StatusSeeOther {
		t.Errorf("reset: %d\n%s", res.Status, res.Body)
	}
	b := s.newBrowser(t)
	login := b.get("/login")
	if res := b.post("/login", url.Values{"csrf_token": {b.token(login)}, "email": {"bob@example.com"}, "password": {adminPW}}); res.Status != http.StatusUnauthorized {
		t.Errorf("the old password after a reset: %d", res.Status)
	}
	s.signIn(t, "bob@example.com", newPW)
	if res := admin.post(bobPath+"/disable", url.Values{"csrf_token": {tok}}); res.Status != http.StatusSeeOther {
		t.Errorf("deactivate: %d\n%s", res.Status, res.Body)
	}
	if res := b.post("/login", url.Values{"csrf_token": {b.token(login)}, "email": {"bob@example.com"}, "password": {newPW}}); res.Status == http.StatusSeeOther {
		t.Errorf("a deactivated user signed in")
	}
	if res := admin.post("/admin/users/"+itoa(me.ID)+"/remove", url.Values{"csrf_token": {tok}}); res.Status != http.StatusBadRequest {
		t.Errorf("removing yourself: %d, want 400", res.Status)
	}
	if res := admin.post(bobPath+"/remove", url.Values{"csrf_token": {tok}}); res.Status != http.StatusSeeOther {
		t.Errorf("remove: %d\n%s", res.Status, res.Body)
	}
	if list := admin.get("/admin/users"); strings.Contains(list.Body, "bob@example.com") {
		t.Errorf("a removed member is still listed")
	}
}

// TestChangeOwnPassword needs the current password and keeps this
// browser signed in with the new one.
func TestChangeOwnPassword(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	page := b.get("/admin/profile")
	newPW := "a brand new passphrase"
	if res := b.post("/admin/profile/password", url.Values{"csrf_token": {b.token(page)}, "current": {"wrong one"}, "new": {newPW}, "confirm": {newPW}}); res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "current") {
		t.Errorf("a wrong current password: %d\n%s", res.Status, res.Body)
	}
	if res := b.post("/admin/profile/password", url.Values{"csrf_token": {b.token(page)}, "current": {adminPW}, "new": {newPW}, "confirm": {newPW}}); res.Status != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", res.Status, res.Body)
	}
	if res := b.get("/admin/profile?notice=password"); res.Status != http.StatusOK || !strings.Contains(res.Body, "Your password is changed") {
		t.Errorf("after the change this browser is not signed in: %d", res.Status)
	}
	s.signIn(t, adminEmail, newPW)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestCreateAccount: the operator's secret creates an account, whose admin
// the signed-in user becomes and which the UI then acts on; a wrong secret
// is refused and creates nothing.
func TestCreateAccount(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	page := b.get("/admin/accounts")
	if res := b.post("/admin/accounts", url.Values{"csrf_token": {b.token(page)}, "name": {"acme"}, "admin_secret": {"guess"}}); res.Status != http.StatusForbidden {
		t.Errorf("a wrong operator secret: %d", res.Status)
	}
	if _, err := s.Store.FindAccountByName(context.Background(), "acme"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("a refused create made the account: %v", err)
	}
	res := b.post("/admin/accounts", url.Values{"csrf_token": {b.token(page)}, "name": {"acme"}, "admin_secret": {operatorSecret}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", res.Status, res.Body)
	}
	if keys := b.get(res.Location); !strings.Contains(keys.Body, "acme · admin") || !strings.Contains(keys.Body, "Account created") {
		t.Errorf("after creating, the UI does not act on the new account as its admin:\n%s", keys.Body)
	}
	path, secret := createKey(t, b, url.Values{"name": {"acme key"}, "enabled": {"on"}})
	if !strings.HasPrefix(path, "/admin/keys/") || secret == "" {
		t.Fatalf("create in the new account: %q", path)
	}
	acme, err := s.Store.FindAccountByName(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	keys, _, err := s.Store.FindKeys(context.Background(), latchkey.KeyFilter{AccountID: acme.ID})
	if err != nil || len(keys) != 1 || keys[0].Name != "acme key" {
		t.Errorf("the new account's keys: %v %v", keys, err)
	}
}

// TestFormsRefuseBadStrings: a form field with invalid UTF-8 or a NUL, or
// meta holding \u0000, is refused naming it, as every API route refuses
// them, and creates nothing.
func TestFormsRefuseBadStrings(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	page := b.get("/admin/keys/new")
	for name, form := range map[string]url.Values{
		"invalid UTF-8": {"name": {"\xff\xfe"}, "enabled": {"on"}},
		"NUL":           {"description": {"a\x00b"}, "enabled": {"on"}},
		"meta NUL":      {"name": {"k"}, "meta": {`{"a":"\u0000"}`}, "enabled": {"on"}},
	} {
		form.Set("csrf_token", b.token(page))
		if res := b.post("/admin/keys", form); res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, res.Status)
		}
	}
	keys, _, err := s.Store.FindKeys(context.Background(), latchkey.KeyFilter{AccountID: 1, Kind: ptrKind(latchkey.KindAPI)})
	if err != nil || len(keys) != 0 {
		t.Errorf("refused forms created keys: %v %v", keys, err)
	}
}

func ptrKind(k latchkey.KeyKind) *latchkey.KeyKind { return &k }

// TestSaveKeepsExpirySeconds: the expiry field shows minutes only, so a
// save that does not touch it keeps the stored seconds; the audit log
// names the user who saved by their email.
func TestSaveKeepsExpirySeconds(t *testing.T) {
	s := newSite(t)
	b := s.setUp(t, adminEmail, adminPW)
	at := time.Date(2027, 1, 1, 0, 0, 30, 500000000, time.UTC)
	k, _, err := s.Store.CreateKey(context.Background(), 1, &latchkey.KeyCreate{Name: "k", ExpiresAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/keys/" + itoa(k.ID)
	page := b.get(path)
	form := keyFormOf(b, page, map[string]string{"name": "renamed"})
	if m := strings.SplitN(page.Body, `name="expires_at_was" value="`, 2); len(m) == 2 {
		was := m[1][:strings.Index(m[1], `"`)]
		form.Set("expires_at_was", was)
		form.Set("expires_at", was)
	}
	if res := b.post(path, form); res.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.Status, res.Body)
	}
	got, err := s.Store.FindKeyByID(context.Background(), 1, k.ID)
	if err != nil || got.Name != "renamed" || got.ExpiresAt == nil || !got.ExpiresAt.Equal(at) {
		t.Errorf("after a save that left the expiry: %+v %v, want the name changed and %v kept", got, err, at)
	}
	if audit := b.get("/admin/audit?action=key.update"); !strings.Contains(audit.Body, adminEmail) {
		t.Errorf("the audit log does not name the user by email")
	}
}
