package compat

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
)

// This file holds the rest of the Unleash admin API's token resource, so
// an Unleash client can manage its tokens, as Unleash answers them:
//
//	GET    /api/admin/api-tokens          keys:read   200 {tokens: [...]}
//	GET    /api/admin/api-tokens/{name}   keys:read   200 {tokens: [...]} named so
//	POST   /api/admin/api-tokens          keys:write  201 the token, with its secret
//	DELETE /api/admin/api-tokens/{token}  keys:write  200, no body, also for an unknown token
//
// A token is a Latchkey key: its tokenName is the key's name, its type,
// environment and projects are kept in the key's meta under "unleash".
// Deliberate differences: a secret is shown once, when the token is
// created (a listed token's secret is the key's start, "lk_…", which
// names it without opening it); type "admin" is not created here (root
// keys come from /v1/keys); a root key lists as type "admin".

// unleashToken is Unleash's apiTokenSchema.
type unleashToken struct {
	Secret      string     `json:"secret"`
	TokenName   string     `json:"tokenName"`
	Type        string     `json:"type"`
	Environment string     `json:"environment"`
	Project     string     `json:"project"`
	Projects    []string   `json:"projects"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	SeenAt      *time.Time `json:"seenAt"`
	Alias       *string    `json:"alias"`
}

// unleashMeta is what a key created here keeps of its Unleash token.
type unleashMeta struct {
	Type        string   `json:"type"`
	Environment string   `json:"environment"`
	Projects    []string `json:"projects"`
}

// unleashTokens is the list answer.
type unleashTokens struct {
	Tokens []unleashToken `json:"tokens"`
}

// newUnleashToken shows a key as an Unleash token; secret is the full
// secret, or "" for the key's start.
func newUnleashToken(k *latchkey.Key, secret string) unleashToken {
	m := unleashMeta{Type: "client", Environment: "development", Projects: []string{"*"}}
	var meta struct {
		Unleash *unleashMeta `json:"unleash"`
	}
	if json.Unmarshal(k.Meta, &meta) == nil && meta.Unleash != nil {
		m = *meta.Unleash
	}
	if k.Kind == latchkey.KindRoot {
		m = unleashMeta{Type: "admin", Environment: "*", Projects: []string{"*"}}
	}
	if secret == "" {
		secret = k.Start + "…"
	}
	project := "*"
	if len(m.Projects) == 1 {
		project = m.Projects[0]
	}
	return unleashToken{Secret: secret, TokenName: k.Name, Type: m.Type, Environment: m.Environment, Project: project,
		Projects: m.Projects, ExpiresAt: utcPtr(k.ExpiresAt), CreatedAt: k.CreatedAt.UTC(), SeenAt: utcPtr(k.LastUsedAt)}
}

// unleashCaller authenticates an Unleash request and requires perm.
func (s *Surfaces) unleashCaller(r *http.Request, perm string) (*auth.Principal, replier) {
	p, f := s.unleashPrincipal(r)
	if f != nil {
		return nil, f
	}
	if !p.Can(perm) {
		return nil, unleashPermission(perm)
	}
	return p, nil
}

// unleashWriter authenticates an Unleash request that changes tokens.
func (s *Surfaces) unleashWriter(r *http.Request) (*auth.Principal, replier) {
	return s.unleashCaller(r, latchkey.PermKeysWrite)
}

// handleUnleashList is GET /api/admin/api-tokens, and with a name GET
// /api/admin/api-tokens/{name}: the account's tokens (of that name).
func (s *Surfaces) handleUnleashList(w http.ResponseWriter, r *http.Request) replier {
	p, f := s.unleashCaller(r, latchkey.PermKeysRead)
	if f != nil {
		return f
	}
	name := r.PathValue("id")
	filter := latchkey.KeyFilter{AccountID: p.AccountID}
	if name != "" {
		filter.Query = &name
	}
	keys, err := s.allKeys(actorContext(r, p), filter)
	if err != nil {
		return s.failure(unleash, err)
	}
	out := unleashTokens{Tokens: []unleashToken{}}
	for _, k := range keys {
		if name == "" || k.Name == name {
			out.Tokens = append(out.Tokens, newUnleashToken(k, ""))
		}
	}
	return jsonAnswer(http.StatusOK, out)
}

// unleashTokenTypes are the types a token is created with here.
var unleashTokenTypes = map[string]bool{"client": true, "frontend": true, "backend": true}

// handleUnleashCreate is POST /api/admin/api-tokens: createApiTokenSchema
// {tokenName, type, environment?, projects? or project?, expiresAt?}.
func (s *Surfaces) handleUnleashCreate(w http.ResponseWriter, r *http.Request) replier {
	p, c, f := callerAndBody(unleash, w, r, s.unleashWriter, decodeUnleashCreate)
	if f != nil {
		return f
	}
	k, secret, err := s.Keys.CreateKey(actorContext(r, p), p.AccountID, c)
	if f := s.outcome(unleash, err, nil, func(err error) replier {
		field := firstField(err)
		if field == "name" {
			field = "tokenName"
		}
		return unleashBadData(unleashDetail{Path: field, Message: fieldMessage(err)})
	}); f != nil {
		return f
	}
	return jsonAnswer(http.StatusCreated, newUnleashToken(k, secret))
}

// decodeUnleashCreate reads createApiTokenSchema into a key to create.
// Unknown members are ignored.
func decodeUnleashCreate(b []byte) (*latchkey.KeyCreate, replier) {
	m, f := unleashObject(b)
	if f != nil {
		return nil, f
	}
	required := func(name string) (string, replier) {
		raw, ok := m[name]
		if !ok {
			return "", unleashBadData(unleashDetail{Path: name,
				Message: "The `" + name + "` property is required. It was not present on the data you sent."})
		}
		v, ok := asString(raw)
		if !ok || strings.TrimSpace(v) == "" {
			return "", unleashBadData(unleashDetail{Path: name, Message: "The `" + name + "` property must be a non-empty string. You sent " + echo(raw) + "."})
		}
		return strings.TrimSpace(v), nil
	}
	name, f := required("tokenName")
	if _, legacy := m["username"]; f != nil && legacy {
		name, f = required("username")
	}
	if f != nil {
		return nil, f
	}
	typ, f := required("type")
	if f != nil {
		return nil, f
	}
	meta := unleashMeta{Type: strings.ToLower(typ), Environment: "development", Projects: []string{"*"}}
	if !unleashTokenTypes[meta.Type] {
		return nil, unleashBadData(unleashDetail{Path: "type", Message: "The `type` property must be one of client, frontend or backend " +
			"(Latchkey's admin tokens are root keys, created on /v1/keys). You sent " + echo(m["type"]) + "."})
	}
	if raw, ok := m["environment"]; ok && !isNull(raw) {
		if meta.Environment, f = required("environment"); f != nil {
			return nil, f
		}
	}
	if raw, ok := m["projects"]; ok && !isNull(raw) {
		projects, ok := asStrings(raw)
		if !ok || len(projects) == 0 {
			return nil, unleashBadData(unleashDetail{Path: "projects", Message: "The `projects` property must be a non-empty array of strings. You sent " + echo(raw) + "."})
		}
		meta.Projects = projects
	} else if raw, ok := m["project"]; ok && !isNull(raw) {
		project, f := required("project")
		if f != nil {
			return nil, f
		}
		meta.Projects = []string{project}
	}
	c := &latchkey.KeyCreate{Kind: latchkey.KindAPI, Name: name}
	if raw, ok := m["expiresAt"]; ok && !isNull(raw) {
		v, _ := asString(raw)
		t, ok := unleashTime(v)
		if !ok {
			return nil, unleashBadData(unleashDetail{Path: "expiresAt",
				Message: `The ` + "`expiresAt`" + ` property must match format "date-time". You sent ` + echo(raw) + "."})
		}
		c.ExpiresAt = &t
	}
	c.Meta, _ = json.Marshal(map[string]unleashMeta{"unleash": meta})
	return c, nil
}

// handleUnleashDelete is DELETE /api/admin/api-tokens/{token}: {token} is
// the secret; an unknown one answers 200 and changes nothing, as Unleash.
func (s *Surfaces) handleUnleashDelete(w http.ResponseWriter, r *http.Request) replier {
	p, f := s.unleashWriter(r)
	if f != nil {
		return f
	}
	return s.unleashChangeToken(r, p, r.PathValue("id"), "A root key cannot delete itself. Use another root key or the operator.",
		func(ctx context.Context, k *latchkey.Key) error { return s.Keys.DeleteKey(ctx, p.AccountID, k.ID) }, nil)
}

// unleashChangeToken is the rest of every change to one token, in
// Unleash's order: the token looked up by its secret in the caller's
// account, the root-key guard (self is its answer to a root key acting on
// itself), then change; invalid (nil: none) words an invalid-input error
// of change. Every outcome but a refusal is 200 with no body, as Unleash
// answers: an unknown token, or one deleted meanwhile, changes nothing.
func (s *Surfaces) unleashChangeToken(r *http.Request, p *auth.Principal, token, self string,
	change func(ctx context.Context, k *latchkey.Key) error, invalid func(error) replier) replier {
	done := unleashStatus(http.StatusOK)
	if !latchkey.CheckSecret(token) {
		return done // not a secret: no such token
	}
	ctx := actorContext(r, p)
	k, err := s.Keys.FindKeyBySecret(ctx, p.AccountID, latchkey.HashSecret(token))
	if f := s.outcome(unleash, err, done, nil); f != nil {
		return f
	}
	if f := unleashRootKeyGuard(p, k, self); f != nil {
		return f
	}
	if f := s.outcome(unleash, change(ctx, k), done, invalid); f != nil {
		return f
	}
	return done
}
