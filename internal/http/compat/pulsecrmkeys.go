package compat

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// This file holds the PulseCRM /apikeys route besides the update whose
// shape its public reference gives: POST /apikeys, by the same signed-in
// account admin as PATCH, with the same ApiKeyInput body (description and
// flatPermissionsList required, expiresAt optional: absent, null or "" is
// no expiry), answers 201 with the key's apiKey and its apiSecret, shown
// this once. Latchkey's apiKey is the key's start ("lk_…"), which names the
// key without opening it; its apiSecret is the key itself. The reference
// gives no shapes for listing, reading or deleting keys, so those routes
// are not served (see the README).

// pulseCRMCreated is the create answer.
type pulseCRMCreated struct {
	ID                  int64      `json:"id"`
	APIKey              string     `json:"apiKey"`
	APISecret           string     `json:"apiSecret"`
	Description         string     `json:"description"`
	FlatPermissionsList []string   `json:"flatPermissionsList"`
	ExpiresAt           *time.Time `json:"expiresAt"`
	CreatedAt           time.Time  `json:"createdAt"`
}

// handlePulseCRMCreate is POST /apikeys.
func (s *Surfaces) handlePulseCRMCreate(w http.ResponseWriter, r *http.Request) replier {
	p, u, e := callerAndBody(pulseCRM, w, r, s.pulseCRMPrincipal, decodePulseCRMInput)
	if e != nil {
		return e
	}
	c := &latchkey.KeyCreate{Kind: latchkey.KindAPI, Description: *u.Description, Permissions: *u.Permissions, ExpiresAt: u.ExpiresAt.Ptr()}
	k, secret, err := s.Keys.CreateKey(actorContext(r, p), p.AccountID, c)
	if e := s.outcome(pulseCRM, err, nil, pulseCRMInvalid); e != nil {
		return e
	}
	perms := k.Permissions
	if perms == nil {
		perms = []string{}
	}
	return jsonAnswer(http.StatusCreated, pulseCRMCreated{ID: k.ID, APIKey: k.Start, APISecret: secret, Description: k.Description,
		FlatPermissionsList: perms, ExpiresAt: utcPtr(k.ExpiresAt), CreatedAt: k.CreatedAt.UTC()})
}
