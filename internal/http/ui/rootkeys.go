// The root keys page: the credentials of the servers and gateways that
// call Latchkey, listed like api keys and created from the same form.

package ui

import "net/http"

// rootKeysPage lists the account's root keys.
func (u *UI) rootKeysPage(w http.ResponseWriter, r *http.Request, p *page) {
	u.listKeys(w, r, p, true)
}
