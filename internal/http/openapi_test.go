package http

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/http/auth"
	"github.com/latchkey/latchkey/internal/http/compat"
)

// extraOperations are served outside routes() and must still be described.
var extraOperations = map[string]bool{"GET /metrics": true}

// init adds the gateway endpoint's operations, served outside routes()
// under every method.
func init() {
	// The gateway endpoint answers every method (authorize.go).
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		extraOperations[m+" /v1/authorize"] = true
		extraOperations[m+" /v1/authorize/{path}"] = true
	}
}

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the embedded document.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: got %v, want valid JSON", err)
	}
	return doc
}

// openAPIOperations returns every operation of the document by
// "METHOD /path".
func openAPIOperations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("paths: got %T, want an object", doc["paths"])
	}
	ops := map[string]map[string]any{}
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("paths[%q]: got %T, want an object", path, v)
		}
		for _, m := range openAPIMethods {
			if v, ok := item[m]; ok {
				op, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("paths[%q].%s: got %T, want an object", path, m, v)
				}
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

// wildcard matches a ServeMux wildcard such as {id} or {rest...}.
var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// openAPIPath converts a ServeMux pattern to an OpenAPI path: wildcards are
// kept as they are ("{id}"); a trailing "..." is dropped.
func openAPIPath(pattern string) string {
	return wildcard.ReplaceAllString(pattern, "{$1}")
}

// resolvePointer resolves a local reference ("#/a/b") in doc.
func resolvePointer(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("not a local reference")
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not inside an object", tok)
		}
		if cur, ok = obj[tok]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one.
func deref(doc map[string]any, v any) map[string]any {
	for i := 0; i < 10; i++ {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return obj
		}
		if v, _ = resolvePointer(doc, ref); v == nil {
			return nil
		}
	}
	return nil
}

// The document is OpenAPI 3.1 JSON.
func TestOpenAPIDocumentIsJSON31(t *testing.T) {
	doc := loadOpenAPI(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if title, _ := info["title"].(string); title == "" {
		t.Errorf("info.title: got %q, want a title", title)
	}
	if version, _ := info["version"].(string); version == "" {
		t.Errorf("info.version: got %q, want a version", version)
	}
}

// Every route of the routes table has an operation, with its security,
// parameters and responses.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := openAPIOperations(t, doc)
	for _, rt := range (&Server{}).routes() {
		name := rt.method + " " + rt.pattern
		t.Run(name, func(t *testing.T) {
			key := strings.ToUpper(rt.method) + " " + openAPIPath(rt.pattern)
			op, ok := ops[key]
			if !ok {
				t.Fatalf("route %s: got no operation, want %s %q in openapi.json",
					name, strings.ToLower(rt.method), openAPIPath(rt.pattern))
			}
			if got, _ := op["summary"].(string); got != rt.summary {
				t.Errorf("summary: got %q, want %q (the route's)", got, rt.summary)
			}
			checkSecurity(t, op, rt.perm)
			checkPathParameters(t, doc, op, rt.pattern)
			checkResponses(t, doc, op)
		})
	}
	for key := range extraOperations {
		if _, ok := ops[key]; !ok {
			t.Errorf("%s: got no operation, want one (served outside routes())", key)
		}
	}
}

// Security schemes of the document: the operator's secret, a root key, and
// a signed-in user's access token as a bearer or in the session cookie.
const (
	schemeAdmin  = "adminSecret"
	schemeRoot   = "rootKey"
	schemeBearer = "userBearer"
	schemeCookie = "sessionCookie"
)

// wantSecurity returns the alternatives a route's perm calls for, scheme to
// scopes: none for a public route; the operator's secret alone for
// "operator"; every principal with no scope for "authenticated"; else every
// principal, a root key scoped to perm. Users' roles are not scopes: the
// description states them.
func wantSecurity(perm string) map[string][]string {
	switch perm {
	case "":
		return map[string][]string{}
	case permOperator:
		return map[string][]string{schemeAdmin: {}}
	case permAuthenticated:
		return map[string][]string{schemeAdmin: {}, schemeRoot: {}, schemeBearer: {}, schemeCookie: {}}
	}
	return map[string][]string{schemeAdmin: {}, schemeRoot: {perm}, schemeBearer: {}, schemeCookie: {}}
}

// userRoles says which roles may use perm, as the descriptions put it,
// asking Principal.Can so the document follows the code.
func userRoles(perm string) string {
	var roles []string
	for _, r := range []latchkey.Role{latchkey.RoleAdmin, latchkey.RoleMember} {
		p := &auth.Principal{Actor: latchkey.Actor{Kind: latchkey.ActorUser}, Role: r}
		if p.Can(perm) {
			roles = append(roles, string(r))
		}
	}
	return strings.Join(roles, " or ")
}

// checkSecurity checks that an operation's security alternatives are
// exactly those its route's perm calls for, one scheme each, with the
// same scopes, and that its description states the requirement.
func checkSecurity(t *testing.T, op map[string]any, perm string) {
	t.Helper()
	sec, ok := op["security"].([]any)
	if !ok {
		t.Fatalf("security: got %v, want an array on every operation", op["security"])
	}
	got := map[string][]string{}
	for _, req := range sec {
		r, _ := req.(map[string]any)
		if len(r) != 1 {
			t.Errorf("security requirement: got %v, want one scheme (alternatives, not a combination)", req)
		}
		for name, v := range r {
			if _, dup := got[name]; dup {
				t.Errorf("security: got %s twice in %v, want it once", name, sec)
			}
			raw, ok := v.([]any)
			if !ok {
				t.Errorf("security %s: got %v, want an array of scopes", name, v)
			}
			scopes := []string{}
			for _, s := range raw {
				str, _ := s.(string)
				scopes = append(scopes, str)
			}
			got[name] = scopes
		}
	}
	want := wantSecurity(perm)
	for _, name := range keysOf(want) {
		if scopes, ok := got[name]; !ok {
			t.Errorf("security: got %v, want %s %v among the alternatives", sec, name, want[name])
		} else if strings.Join(scopes, " ") != strings.Join(want[name], " ") {
			t.Errorf("security %s: got scopes %v, want %v", name, scopes, want[name])
		}
	}
	for _, name := range keysOf(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("security: got %s %v, want no such alternative for perm %q", name, got[name], perm)
		}
	}

	desc, _ := op["description"].(string)
	var phrases []string
	switch perm {
	case "":
		return
	case permOperator:
		phrases = []string{"Requires the operator's X-Admin-Secret"}
	case permAuthenticated:
		phrases = []string{"Requires any credential"}
	default:
		if !latchkey.IsRootPermission(perm) {
			t.Errorf("perm %q: got an unknown permission, want a root-key permission or a pseudo one", perm)
		}
		phrases = []string{"Requires `" + perm + "`", "signed-in user whose role in the account is " + userRoles(perm) + "."}
	}
	for _, p := range phrases {
		if !strings.Contains(desc, p) {
			t.Errorf("description: got %q, want it to say %q", desc, p)
		}
	}
	responses, _ := op["responses"].(map[string]any)
	for _, code := range []string{"401", "403"} {
		if _, ok := responses[code]; !ok {
			t.Errorf("responses: got %v, want a %s on a guarded route", keysOf(responses), code)
		}
	}
}

// The security schemes are the credentials DESIGN §3 lists.
func TestOpenAPISecuritySchemes(t *testing.T) {
	doc := loadOpenAPI(t)
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	want := map[string]map[string]string{
		schemeAdmin:  {"type": "apiKey", "in": "header", "name": "X-Admin-Secret"},
		schemeRoot:   {"type": "http", "scheme": "bearer"},
		schemeBearer: {"type": "http", "scheme": "bearer"},
		schemeCookie: {"type": "apiKey", "in": "cookie", "name": auth.AccessCookie},
	}
	for _, name := range keysOf(want) {
		s, ok := schemes[name].(map[string]any)
		if !ok {
			t.Errorf("securitySchemes.%s: got %v, want an object", name, schemes[name])
			continue
		}
		for _, k := range keysOf(want[name]) {
			if s[k] != want[name][k] {
				t.Errorf("securitySchemes.%s.%s: got %v, want %q", name, k, s[k], want[name][k])
			}
		}
	}
	if s, _ := schemes[schemeCookie].(map[string]any); !strings.Contains(fmt.Sprint(s["description"]), "X-CSRF-Token") {
		t.Errorf("securitySchemes.%s.description: got %v, want it to tell of X-CSRF-Token on unsafe methods", schemeCookie, s["description"])
	}
	if s, _ := schemes[schemeBearer].(map[string]any); !strings.Contains(fmt.Sprint(s["bearerFormat"]), auth.AccessPrefix) {
		t.Errorf("securitySchemes.%s.bearerFormat: got %v, want it to name the %s prefix", schemeBearer, s["bearerFormat"], auth.AccessPrefix)
	}
	// Every scheme an operation names is declared.
	for key, op := range openAPIOperations(t, doc) {
		sec, _ := op["security"].([]any)
		for _, req := range sec {
			r, _ := req.(map[string]any)
			for name := range r {
				if _, ok := schemes[name]; !ok {
					t.Errorf("%s: got security scheme %q, want one declared in components.securitySchemes", key, name)
				}
			}
		}
	}
}

// checkPathParameters checks that every wildcard of the pattern is a
// required path parameter of the operation.
func checkPathParameters(t *testing.T, doc map[string]any, op map[string]any, pattern string) {
	t.Helper()
	declared := map[string]bool{}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		param := deref(doc, p)
		if param == nil {
			t.Errorf("parameter: got %v, want an object or a resolvable $ref", p)
			continue
		}
		if param["in"] == "path" {
			declared[param["name"].(string)] = param["required"] == true
		}
	}
	want := map[string]bool{}
	for _, m := range wildcard.FindAllStringSubmatch(pattern, -1) {
		want[m[1]] = true
		if required, ok := declared[m[1]]; !ok || !required {
			t.Errorf("path parameter %q: got declared=%v required=%v, want a required path parameter", m[1], ok, required)
		}
	}
	for name := range declared {
		if !want[name] {
			t.Errorf("path parameter %q: got declared, want it in the pattern %s", name, pattern)
		}
	}
}

// checkResponses checks that an operation answers at least one 2xx and that
// its error responses are problem documents.
func checkResponses(t *testing.T, doc map[string]any, op map[string]any) {
	t.Helper()
	responses, ok := op["responses"].(map[string]any)
	if !ok || len(responses) == 0 {
		t.Fatalf("responses: got %v, want some", op["responses"])
	}
	var success bool
	for _, code := range keysOf(responses) {
		switch code[0] {
		case '2':
			success = true
		case '4', '5':
			resp := deref(doc, responses[code])
			content, _ := resp["content"].(map[string]any)
			if _, ok := content["application/problem+json"]; !ok {
				t.Errorf("response %s: got content %v, want application/problem+json", code, keysOf(content))
			}
		}
	}
	if !success {
		t.Errorf("responses: got %v, want a 2xx", keysOf(responses))
	}
}

// No operation describes a route the server does not serve.
func TestOpenAPIHasNoOperationWithoutRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	served := map[string]bool{}
	for _, rt := range (&Server{}).routes() {
		served[strings.ToUpper(rt.method)+" "+openAPIPath(rt.pattern)] = true
	}
	seeds := seedRoutes()
	for key := range openAPIOperations(t, doc) {
		if !served[key] && !extraOperations[key] && !seeds[anyParam(key)] {
			t.Errorf("operation %s: got it in openapi.json, want a route in routes() serving it", key)
		}
	}
}

// Every $ref points into the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	var n int
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				n++
				if !strings.HasPrefix(ref, "#/components/") {
					t.Errorf("%s: got $ref %q, want one into #/components/", where, ref)
				} else if _, err := resolvePointer(doc, ref); err != nil {
					t.Errorf("%s: $ref %q: got %v, want it to resolve", where, ref, err)
				}
			}
			for _, k := range keysOf(v) {
				walk(where+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", where, i), e)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Errorf("$refs: got %d, want the document to reuse components", n)
	}
}

// No two operations share an operationId.
func TestOpenAPIOperationIDsAreUnique(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := openAPIOperations(t, doc)
	seen := map[string]string{}
	for _, key := range keysOf(ops) {
		id, _ := ops[key]["operationId"].(string)
		if id == "" {
			t.Errorf("%s: got operationId %q, want one", key, id)
			continue
		}
		if other, ok := seen[id]; ok {
			t.Errorf("%s: got operationId %q, want it unique (also on %s)", key, id, other)
		}
		seen[id] = key
	}
}

// keysOf returns the keys of m in order.
func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// seedRoutes are the seed surfaces' routes, their path parameters named
// alike (anyParam): two products share /api/admin/api-tokens/{…}, where
// one names the segment an id and the other a token.
func seedRoutes() map[string]bool {
	out := map[string]bool{}
	for _, rt := range (&compat.Surfaces{}).Routes() {
		out[anyParam(rt.Method+" "+openAPIPath(rt.Pattern))] = true
	}
	return out
}

// anyParam names every path parameter of an operation key "{}".
var paramName = regexp.MustCompile(`\{[^}]*\}`)

func anyParam(key string) string { return paramName.ReplaceAllString(key, "{}") }

// TestOpenAPIDescribesEverySeedRoute: each seed surface's route has an
// operation, tagged with its product, so a product's client can be read
// off the same document.
func TestOpenAPIDescribesEverySeedRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := map[string]map[string]any{}
	for key, op := range openAPIOperations(t, doc) {
		ops[anyParam(key)] = op
	}
	for key := range seedRoutes() {
		op, ok := ops[key]
		if !ok {
			t.Errorf("seed route %s: no operation in openapi.json", key)
			continue
		}
		tags, _ := op["tags"].([]any)
		seed := false
		for _, tg := range tags {
			if s, _ := tg.(string); strings.HasPrefix(s, "seed ") {
				seed = true
			}
		}
		if !seed {
			t.Errorf("seed route %s: tags %v, want its product's seed tag", key, tags)
		}
	}
}
