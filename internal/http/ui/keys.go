// The keys page (a list with search, status and kind filters and
// pagination) and the create page, whose new secret is shown once on the
// new key's own page.

package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// keysData is the list page's state.
type keysData struct {
	Keys            []*latchkey.Key
	Q, Status, Kind string
	Next            string // the next page's query, "" on the last
	Filtered        bool
	Statuses        []latchkey.Status
	RootPage        bool // the root keys page reuses the list
	FirstPageQuery  string
	NotFirstPage    bool
}

// keysPageSize is how many keys a page lists.
const keysPageSize = 25

// keysPage lists the account's keys, newest first.
func (u *UI) keysPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.listKeys(w, r, p, false)
}

// listKeys serves the keys page and, for root keys, the root keys page.
func (u *UI) listKeys(w http.ResponseWriter, r *http.Request, p *page, root bool) {
	q := r.URL.Query()
	d := &keysData{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Kind: q.Get("kind"), RootPage: root,
		Statuses: []latchkey.Status{latchkey.StatusActive, latchkey.StatusDisabled, latchkey.StatusExpired, latchkey.StatusRevoked}}
	switch {
	case root:
		d.Kind = string(latchkey.KindRoot)
	case d.Kind == "":
		d.Kind = string(latchkey.KindAPI) // root keys have their own page
	case d.Kind == "any":
		d.Kind = ""
	}
	f := latchkey.KeyFilter{AccountID: principal(r).AccountID, Limit: keysPageSize, Cursor: q.Get("cursor")}
	if d.Q != "" {
		f.Query = &d.Q
	}
	if d.Status != "" {
		st := latchkey.Status(d.Status)
		f.Status = &st
	}
	if d.Kind != "" {
		if k := latchkey.KeyKind(d.Kind); !k.Valid() {
			p.Error, d.Kind = "kind: must be api, root or any", string(latchkey.KindAPI)
		}
		k := latchkey.KeyKind(d.Kind)
		f.Kind = &k
	}
	d.Filtered = d.Q != "" || d.Status != "" || (!root && d.Kind != string(latchkey.KindAPI))
	d.NotFirstPage = f.Cursor != ""
	keys, next, err := u.Keys.FindKeys(r.Context(), f)
	if err != nil {
		p.Data = d
		u.errorPage(w, r, p, err)
		return
	}
	d.Keys, d.Next = keys, nextPage(q, next, "q", "status", "kind")
	p.Title, p.Nav, p.Data = "Keys", "keys", d
	if root {
		p.Title, p.Nav = "Root keys", "root"
	}
	u.render(w, r, http.StatusOK, "keys", p)
}

// newKeyData is the create page's state.
type newKeyData struct {
	Form        keyForm
	Permissions []*latchkey.Permission
	Intervals   []latchkey.RefillInterval
}

// intervals are the refill choices the form offers.
var intervals = []latchkey.RefillInterval{latchkey.RefillHour, latchkey.RefillDay, latchkey.RefillWeek, latchkey.RefillMonth}

// newKeyPage shows the create form (?kind=root for a root key).
func (u *UI) newKeyPage(w http.ResponseWriter, r *http.Request, p *page) {
	if !p.CanEdit {
		u.errorPage(w, r, p, latchkey.Errorf(latchkey.EFORBIDDEN, "your role in this account (%s) may read keys but not create them", p.Role))
		return
	}
	form := keyForm{Kind: string(latchkey.KindAPI), Enabled: true, RateWindow: "3600"}
	if r.URL.Query().Get("kind") == string(latchkey.KindRoot) {
		form.Kind = string(latchkey.KindRoot)
	}
	u.showNewKey(w, r, p, http.StatusOK, form)
}

// showNewKey renders the create form with the permissions to choose from.
func (u *UI) showNewKey(w http.ResponseWriter, r *http.Request, p *page, status int, form keyForm) {
	d := &newKeyData{Form: form, Intervals: intervals}
	var err error
	if d.Permissions, err = u.permissionChoices(r, latchkey.KeyKind(form.Kind)); err != nil {
		u.errorPage(w, r, p, err)
		return
	}
	p.Title, p.Nav, p.Data = "New key", "keys", d
	if form.Kind == string(latchkey.KindRoot) {
		p.Title, p.Nav = "New root key", "root"
	}
	u.render(w, r, status, "key_new", p)
}

// createKey creates the key and opens its page, which shows the secret once.
func (u *UI) createKey(w http.ResponseWriter, r *http.Request, p *page) {
	form := postedForm(r.PostForm)
	pr := principal(r)
	if !p.CanEdit {
		u.errorPage(w, r, p, latchkey.Errorf(latchkey.EFORBIDDEN, "your role in this account (%s) may read keys but not create them", p.Role))
		return
	}
	if form.Kind == string(latchkey.KindRoot) && !pr.Can(latchkey.PermAccountAdmin) {
		u.errorPage(w, r, p, auth.ErrRootNeedsAdmin)
		return
	}
	c, err := form.create()
	var k *latchkey.Key
	var secret string
	if err == nil {
		k, secret, err = u.Keys.CreateKey(r.Context(), pr.AccountID, c)
	}
	if err != nil {
		if p.refuse(err) {
			u.showNewKey(w, r, p, http.StatusBadRequest, form)
			return
		}
		u.errorPage(w, r, p, err)
		return
	}
	if err := u.sealSecret(w, r, k.ID, secret); err != nil {
		u.fail(w, r, err)
		return
	}
	seeOther(w, r, "/admin/keys/"+strconv.FormatInt(k.ID, 10), "created")
}
