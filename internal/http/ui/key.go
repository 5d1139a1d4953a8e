// A key's page: every field editable, revoke with a reason, enable and
// disable, rotate with a grace period (the new secret shown once), its
// devices with a remove button each, last use, and the usage chart.

package ui

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// keyData is a key page's state.
type keyData struct {
	Key         *latchkey.Key
	Form        keyForm
	Stored      keyForm // the stored values, to tell a field the user changed
	Secret      string  // a new secret, shown this once
	Base        string  // this server's address, for the curl example
	Devices     []*latchkey.Device
	Permissions []*latchkey.Permission
	Intervals   []latchkey.RefillInterval
	Chart       template.HTML
	Totals      []codeTotal
	Graces      []grace
}

// grace is a rotation's choice of how long the old secret keeps working.
type grace struct {
	Seconds int
	Label   string
}

// graces are the rotation choices the page offers.
var graces = []grace{{0, "no grace: the old secret stops at once"}, {3600, "1 hour"}, {86400, "1 day"}, {7 * 86400, "7 days"}}

// keyPage shows a key.
func (u *UI) keyPage(w http.ResponseWriter, r *http.Request, p *page) {
	id, ok := u.pathID(w, r, p, "key")
	if !ok {
		return
	}
	k, err := u.Keys.FindKeyByID(r.Context(), principal(r).AccountID, id)
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	secret := u.openSecret(w, r, k.ID)
	u.showKey(w, r, p, http.StatusOK, k, formOf(k), secret)
}

// showKey renders a key's page with the form as given (the stored key's
// values, or a refused post's).
func (u *UI) showKey(w http.ResponseWriter, r *http.Request, p *page, status int, k *latchkey.Key, form keyForm, secret string) {
	ctx := r.Context()
	acc := principal(r).AccountID
	d := &keyData{Key: k, Form: form, Stored: formOf(k), Secret: secret, Intervals: intervals, Graces: graces, Base: baseURL(r)}
	var err error
	if d.Devices, err = u.Keys.FindDevices(ctx, acc, k.ID); err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	if d.Permissions, err = u.permissionChoices(r, k.Kind); err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	now := u.Clock()
	buckets, err := u.Keys.FindUsage(ctx, acc, k.ID, latchkey.UsageFilter{Bucket: time.Hour, Until: now.Truncate(time.Hour).Add(time.Hour)})
	if err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	d.Chart, d.Totals = usageChart(buckets)
	p.Title, p.Nav, p.Data = k.Name, "keys", d
	if p.Title == "" {
		p.Title = "Key " + strconv.FormatInt(k.ID, 10)
	}
	if k.Kind == latchkey.KindRoot {
		p.Nav = "root"
	}
	u.render(w, r, status, "key", p)
}

// keyAction runs a change to a key after the checks every change shares:
// the role may write keys, and the change respects the root-key rule
// (changing a root key needs account:admin). It redirects back to the
// key's page with a notice, or shows the page again with the error.
func (u *UI) keyAction(w http.ResponseWriter, r *http.Request, p *page, notice string, do func(k *latchkey.Key) error) {
	id, ok := u.pathID(w, r, p, "key")
	if !ok {
		return
	}
	pr := principal(r)
	k, err := u.Keys.FindKeyByID(r.Context(), pr.AccountID, id)
	if err == nil && !p.CanEdit {
		err = latchkey.Errorf(latchkey.EFORBIDDEN, "your role in this account (%s) may read keys but not change them", p.Role)
	}
	if err == nil {
		err = pr.GuardKeyChange(id, false, func() (latchkey.KeyKind, error) { return k.Kind, nil })
	}
	if err == nil {
		err = do(k)
	}
	if err != nil {
		if k != nil && p.refuse(err) {
			form := formOf(k)
			if r.URL.Path == "/admin/keys/"+r.PathValue("id") {
				form = postedForm(r.PostForm)
				form.Kind = string(k.Kind)
			}
			u.showKey(w, r, p, http.StatusBadRequest, k, form, "")
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	if notice == "deleted" {
		seeOther(w, r, "/admin/keys", notice)
		return
	}
	seeOther(w, r, "/admin/keys/"+strconv.FormatInt(id, 10), notice)
}

// updateKey saves the key's form.
func (u *UI) updateKey(w http.ResponseWriter, r *http.Request, p *page) {
	u.keyAction(w, r, p, "updated", func(k *latchkey.Key) error {
		upd, err := postedForm(r.PostForm).update(r.PostForm)
		if err != nil {
			return err
		}
		_, err = u.Keys.UpdateKey(r.Context(), k.AccountID, k.ID, upd)
		return err
	})
}

// revokeKey revokes the key with the reason given.
func (u *UI) revokeKey(w http.ResponseWriter, r *http.Request, p *page) {
	u.keyAction(w, r, p, "revoked", func(k *latchkey.Key) error {
		_, err := u.Keys.RevokeKey(r.Context(), k.AccountID, k.ID, strings.TrimSpace(r.PostForm.Get("reason")))
		return err
	})
}

// setEnabled is the enable or the disable button: it switches verification
// of the key on or off.
func (u *UI) setEnabled(on bool, notice string) handler {
	return func(w http.ResponseWriter, r *http.Request, p *page) {
		u.keyAction(w, r, p, notice, func(k *latchkey.Key) error {
			_, err := u.Keys.UpdateKey(r.Context(), k.AccountID, k.ID, &latchkey.KeyUpdate{Enabled: &on})
			return err
		})
	}
}

// rotateKey issues a new secret, shown once on the key's page; the old one
// lives out the chosen grace.
func (u *UI) rotateKey(w http.ResponseWriter, r *http.Request, p *page) {
	u.keyAction(w, r, p, "rotated", func(k *latchkey.Key) error {
		secs, err := strconv.Atoi(r.PostForm.Get("grace_seconds"))
		if err != nil || secs < 0 {
			return latchkey.FieldError("grace_seconds", "must be a whole number of seconds, 0 or more")
		}
		_, secret, err := u.Keys.RotateKey(r.Context(), k.AccountID, k.ID, time.Duration(secs)*time.Second)
		if err != nil {
			return err
		}
		return u.sealSecret(w, r, k.ID, secret)
	})
}

// deleteKey deletes the key once the confirmation box is ticked.
func (u *UI) deleteKey(w http.ResponseWriter, r *http.Request, p *page) {
	u.keyAction(w, r, p, "deleted", func(k *latchkey.Key) error {
		if r.PostForm.Get("confirm") == "" {
			return latchkey.FieldError("confirm", "tick the box to confirm: deleting a key cannot be undone")
		}
		return u.Keys.DeleteKey(r.Context(), k.AccountID, k.ID)
	})
}

// removeDevice forgets one of the key's devices (named in the form, not
// the URL: a device id may hold anything).
func (u *UI) removeDevice(w http.ResponseWriter, r *http.Request, p *page) {
	u.keyAction(w, r, p, "device", func(k *latchkey.Key) error {
		dev := r.PostForm.Get("device_id")
		if err := latchkey.ValidateDeviceID(dev); err != nil {
			return err
		}
		return u.Keys.DeleteDevice(r.Context(), k.AccountID, k.ID, dev)
	})
}

// baseURL is the address the browser reached this server at.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
