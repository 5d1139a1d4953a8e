package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// This file holds the request and sign-in helpers of the HTTP suites
// (internal/http, internal/http/compat, cmd/latchkey, client). It speaks
// plain HTTP to a base URL or an http.Handler, so the server's own package
// can use it without an import cycle.

// Session cookie names, as DESIGN §3 fixes them (the wire contract the
// tests check, so spelled here rather than imported).
const (
	AccessCookie  = "__Host-access"
	RefreshCookie = "__Host-refresh"
)

// HTTP sends requests to a server under test. Set URL for a running server
// (httptest.NewServer, the real binary), or Handler to serve each request
// in-process through an httptest.ResponseRecorder. The zero value of every
// other field is usable.
type HTTP struct {
	// URL is the server's base URL ("http://127.0.0.1:port"); when empty,
	// Handler serves the requests.
	URL     string
	Handler http.Handler
	// Header is sent with every request; a call's own header of the same
	// name replaces it.
	Header http.Header
	// Client sends requests to URL; nil is http.DefaultClient.
	Client *http.Client
	// RemoteAddr is the peer an in-process request comes from ("ip:port");
	// empty is httptest's 192.0.2.1:1234. A request to URL always comes
	// from the test's own socket.
	RemoteAddr string
}

// Response is a whole answer: status, headers and body. Status is 0 when
// no answer came back (the failure is already reported).
type Response struct {
	Status  int
	Header  http.Header
	Body    []byte
	Cookies []*http.Cookie
}

// String returns the body as text.
func (r *Response) String() string { return string(r.Body) }

// Decode decodes the JSON body into v, failing the test when it is not
// JSON of v's shape.
func (r *Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("answer %d is not the JSON expected (%T): %v; body %q", r.Status, v, err, r.Body)
	}
}

// Cookie returns the cookie the answer set under name, or nil.
func (r *Response) Cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Do sends one request and returns the answer. body is nil or "" for none;
// a string or []byte is sent as given, with only the headers named; any
// other value is JSON-encoded and sent as application/json (unless headers
// name another Content-Type). headers are name, value pairs: a name given
// twice is sent with both values, and a name given at all replaces the
// default of h.Header and the JSON Content-Type. A request that gets no answer is reported with tb.Error, not
// tb.Fatal, so Do may be called from several goroutines; its Response then
// has Status 0.
func (h HTTP) Do(tb testing.TB, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	rd, isJSON := requestBody(tb, body)
	var req *http.Request
	if h.URL == "" {
		req = httptest.NewRequest(method, path, rd)
		if h.RemoteAddr != "" {
			req.RemoteAddr = h.RemoteAddr
		}
	} else {
		var err error
		if req, err = http.NewRequest(method, h.URL+path, rd); err != nil {
			tb.Errorf("%s %s: %v", method, path, err)
			return &Response{Header: http.Header{}}
		}
	}
	for name, vs := range h.Header {
		req.Header[name] = append([]string(nil), vs...)
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(headers)%2 != 0 {
		tb.Fatalf("headers must come in name, value pairs: got %q", headers)
	}
	own := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		own.Add(headers[i], headers[i+1])
	}
	for name, vs := range own {
		req.Header[name] = vs
	}
	return h.send(tb, req)
}

// requestBody returns the reader of a Do body and whether it was encoded
// as JSON here.
func requestBody(tb testing.TB, body any) (io.Reader, bool) {
	tb.Helper()
	switch b := body.(type) {
	case nil:
		return nil, false
	case string:
		if b == "" {
			return nil, false
		}
		return strings.NewReader(b), false
	case []byte:
		if len(b) == 0 {
			return nil, false
		}
		return bytes.NewReader(b), false
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatalf("request body %T is not JSON: %v", body, err)
	}
	return bytes.NewReader(b), true
}

// send runs the request in-process or over the network and reads the
// whole answer.
func (h HTTP) send(tb testing.TB, req *http.Request) *Response {
	tb.Helper()
	if h.URL == "" {
		if h.Handler == nil {
			tb.Fatal("testenv.HTTP has neither URL nor Handler")
		}
		rec := httptest.NewRecorder()
		h.Handler.ServeHTTP(rec, req)
		res := rec.Result()
		return &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes(), Cookies: res.Cookies()}
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return &Response{Header: http.Header{}}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Errorf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, Cookies: resp.Cookies()}
}

// MustDo is Do, failing the test unless the answer's status is want.
func (h HTTP) MustDo(tb testing.TB, want int, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	res := h.Do(tb, method, path, body, headers...)
	if res.Status != want {
		tb.Fatalf("%s %s: got %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	return res
}

// Session is what signing in (or refreshing) answered: the tokens of its
// body, the refresh token of its cookie, and the whole answer.
type Session struct {
	Status       int
	AccessToken  string
	CSRFToken    string
	RefreshToken string
	ExpiresAt    time.Time
	Response     *Response
}

// Bearer is the header pair presenting the access token as a bearer.
func (s Session) Bearer() []string { return []string{"Authorization", "Bearer " + s.AccessToken} }

// Cookie is the header pair presenting the access token as the
// __Host-access cookie. Go's cookie jar, like curl's, does not send Secure
// cookies over plain HTTP, so it goes in an explicit Cookie header.
func (s Session) Cookie() []string { return []string{"Cookie", AccessCookie + "=" + s.AccessToken} }

// CookieCSRF is Cookie and the session's X-CSRF-Token, as a browser page
// sends an unsafe request.
func (s Session) CookieCSRF() []string {
	return append(s.Cookie(), "X-CSRF-Token", s.CSRFToken)
}

// Login signs in through POST /v1/auth/login with an email and a password
// and returns the answer, whatever it was (see MustLogin).
func (h HTTP) Login(tb testing.TB, email, password string, headers ...string) Session {
	tb.Helper()
	return session(tb, h.Do(tb, "POST", "/v1/auth/login", map[string]string{"email": email, "password": password}, headers...))
}

// MustLogin is Login, failing the test unless it answered 200 with an
// access token, a CSRF token and a refresh cookie.
func (h HTTP) MustLogin(tb testing.TB, email, password string, headers ...string) Session {
	tb.Helper()
	s := h.Login(tb, email, password, headers...)
	if s.Status != http.StatusOK || s.AccessToken == "" || s.CSRFToken == "" || s.RefreshToken == "" {
		tb.Fatalf("login %s: got %d %s, want 200 with both tokens and the refresh cookie", email, s.Status, s.Response.Body)
	}
	return s
}

// Refresh rotates a refresh token through POST /v1/auth/refresh, sent as
// the __Host-refresh cookie, and returns the answer, whatever it was.
func (h HTTP) Refresh(tb testing.TB, refreshToken string, headers ...string) Session {
	tb.Helper()
	headers = append([]string{"Cookie", RefreshCookie + "=" + refreshToken}, headers...)
	return session(tb, h.Do(tb, "POST", "/v1/auth/refresh", nil, headers...))
}

// session reads a sign-in or refresh answer: the body's tokens when it is
// a 200, the refresh cookie when one was set.
func session(tb testing.TB, res *Response) Session {
	tb.Helper()
	s := Session{Status: res.Status, Response: res}
	if res.Status == http.StatusOK {
		var body struct {
			AccessToken string    `json:"access_token"`
			CSRFToken   string    `json:"csrf_token"`
			ExpiresAt   time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal(res.Body, &body); err != nil {
			tb.Errorf("session answer is not JSON: %v; body %q", err, res.Body)
		}
		s.AccessToken, s.CSRFToken, s.ExpiresAt = body.AccessToken, body.CSRFToken, body.ExpiresAt
	}
	if c := res.Cookie(RefreshCookie); c != nil {
		s.RefreshToken = c.Value
	}
	return s
}
