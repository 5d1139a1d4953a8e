// Package client is the Go SDK for a Latchkey server: typed methods for
// every route of the native API, and net/http middleware that lets only
// requests with a valid API key through. It imports the standard library
// and the root package only.
//
// Every method returns the server's refusals as *latchkey.Error, with the
// problem's code, its message, its per-field errors and, for rate_limited
// and unavailable, the server's Retry-After. A call that never got an
// answer (a network error, a cancelled context) returns that error as is.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Client calls a Latchkey server. Set one credential: a root key, a user's
// access token, or the operator's admin secret. A Client is safe for
// concurrent use once its fields are set.
type Client struct {
	// BaseURL is the server's address, like http://127.0.0.1:8080.
	BaseURL string
	// RootKey authenticates as Authorization: Bearer.
	RootKey string
	// AccessToken, a user's session token from Login, authenticates as
	// Authorization: Bearer when RootKey is empty.
	AccessToken string
	// AdminSecret, when set, authenticates as the operator (X-Admin-Secret)
	// and wins over the other two.
	AdminSecret string
	// AccountID picks the account an operator or a user works in
	// (X-Account-ID, an id or a name); optional. A root key always works
	// in its own account.
	AccountID string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// New returns a client for the server at baseURL using a root key.
func New(baseURL, rootKey string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), RootKey: rootKey}
}

var defaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

// hasCredential reports whether the client has something to authenticate
// with.
func (c *Client) hasCredential() bool {
	return c.RootKey != "" || c.AccessToken != "" || c.AdminSecret != ""
}

// Page is one page of a list answer. NextCursor, when not nil, fetches the
// next page; lists that are never paged have it nil.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// request is one call: its body is JSON-encoded unless nil.
type request struct {
	method, path string
	query        url.Values
	body         any
	contentType  string // default application/json
}

// do sends a request and decodes a 2xx JSON answer into out. A non-2xx
// answer becomes a *latchkey.Error.
func (c *Client) do(ctx context.Context, rq request, out any) error {
	_, err := c.send(ctx, rq, out)
	return err
}

// call is do for a route that answers one T.
func call[T any](ctx context.Context, c *Client, rq request) (*T, error) {
	var v T
	if err := c.do(ctx, rq, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// list is a GET of a route that answers all its items as one page.
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	p, err := call[Page[T]](ctx, c, request{method: "GET", path: path, query: query})
	if err != nil {
		return nil, err
	}
	return p.Data, nil
}

// send is do that also returns the answer's headers.
func (c *Client) send(ctx context.Context, rq request, out any) (http.Header, error) {
	var rd io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return nil, fmt.Errorf("latchkey: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(c.BaseURL, "/") + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("latchkey: %w", err)
	}
	if rq.body != nil {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "latchkey-go/"+latchkey.Version)
	switch {
	case c.AdminSecret != "":
		req.Header.Set("X-Admin-Secret", c.AdminSecret)
	case c.RootKey != "":
		req.Header.Set("Authorization", "Bearer "+c.RootKey)
	case c.AccessToken != "":
		req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	}
	if c.AccountID != "" {
		req.Header.Set("X-Account-ID", c.AccountID)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("latchkey: %s %s: %w", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.Header, fmt.Errorf("latchkey: %s %s: read answer: %w", rq.method, rq.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, apiError(rq.method, rq.path, resp, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.Header, fmt.Errorf("latchkey: %s %s: decode answer: %w", rq.method, rq.path, err)
		}
	}
	return resp.Header, nil
}

// StatusError is the cause of every *latchkey.Error the client returns:
// the HTTP status of the answer, for logs and for callers that need it
// (errors.As(err, &se)).
type StatusError struct {
	Method, Path string
	Status       int
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
}

// problem is the server's RFC 9457 answer.
type problem struct {
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Errors map[string]string `json:"errors"`
}

// apiError turns a non-2xx answer into a *latchkey.Error: the problem's
// code, detail and errors when the body is one, else a code from the
// status (a proxy's 502 page is unavailable, as the server's own 503 is).
func apiError(method, path string, resp *http.Response, body []byte) *latchkey.Error {
	var p problem
	e := &latchkey.Error{Err: &StatusError{Method: method, Path: path, Status: resp.StatusCode}}
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		e.Code, e.Message, e.Fields = p.Code, p.Detail, p.Errors
	} else {
		e.Code = codeOfStatus(resp.StatusCode)
		e.Message = http.StatusText(resp.StatusCode)
		if e.Message == "" {
			e.Message = "HTTP " + strconv.Itoa(resp.StatusCode)
		}
	}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = max(time.Until(t), 0)
	}
	return e
}

// statusCodes are the error codes of answers that are not problems, by
// status (a proxy's 502 page is unavailable, as the server's own 503 is).
var statusCodes = map[int]string{
	http.StatusBadRequest:            latchkey.EINVALID,
	http.StatusUnauthorized:          latchkey.EUNAUTHORIZED,
	http.StatusForbidden:             latchkey.EFORBIDDEN,
	http.StatusNotFound:              latchkey.ENOTFOUND,
	http.StatusConflict:              latchkey.ECONFLICT,
	http.StatusRequestEntityTooLarge: latchkey.ETOOLARGE,
	http.StatusUnsupportedMediaType:  latchkey.EUNSUPPORTED,
	http.StatusTooManyRequests:       latchkey.ERATELIMITED,
	http.StatusBadGateway:            latchkey.EUNAVAILABLE,
	http.StatusServiceUnavailable:    latchkey.EUNAVAILABLE,
	http.StatusGatewayTimeout:        latchkey.EUNAVAILABLE,
}

// codeOfStatus is the error code of an answer that is not a problem.
func codeOfStatus(status int) string {
	if code, ok := statusCodes[status]; ok {
		return code
	}
	return latchkey.EINTERNAL
}

// itoa formats an id for a path.
func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// setTime sets a query parameter to an RFC 3339 time unless t is zero.
func setTime(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(time.RFC3339))
	}
}

// setQuery sets the query parameters whose values are not empty; an int
// or int64 is empty when it is 0 or less.
func setQuery(q url.Values, params map[string]any) {
	for name, v := range params {
		switch v := v.(type) {
		case string:
			if v != "" {
				q.Set(name, v)
			}
		case int:
			if v > 0 {
				q.Set(name, strconv.Itoa(v))
			}
		case int64:
			if v > 0 {
				q.Set(name, itoa(v))
			}
		}
	}
}

// Error was this package's error type before the client returned
// *latchkey.Error.
//
// Deprecated: no method returns it any more; match *latchkey.Error (and
// *StatusError for the HTTP status) instead. It stays so that code which
// still tests for it keeps compiling.
type Error struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("latchkey: %d %s: %s", e.Status, e.Code, e.Detail)
}
