package testenv_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// echo answers with what it was sent, and a tiny sign-in: POST
// /v1/auth/login and /v1/auth/refresh answer the tokens and set cookies.
func echo() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusTeapot)
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "body": string(b), "ua": r.Header.Values("User-Agent"),
			"note": r.Header.Values("X-Note"), "peer": r.RemoteAddr})
	})
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Email, Password string }
		json.NewDecoder(r.Body).Decode(&body)
		if body.Password != "right" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: testenv.RefreshCookie, Value: "rt-1", Secure: true})
		fmt.Fprintf(w, `{"access_token":"lka_%s","csrf_token":"c1","expires_at":"2027-01-01T00:00:00Z"}`, body.Email)
	})
	mux.HandleFunc("POST /v1/auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(testenv.RefreshCookie)
		if err != nil || c.Value != "rt-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: testenv.RefreshCookie, Value: "rt-2"})
		fmt.Fprint(w, `{"access_token":"lka_2","csrf_token":"c1","expires_at":"2027-01-01T00:00:00Z"}`)
	})
	return mux
}

// wantNote returns the X-Note values among header pairs.
func wantNote(headers []string) []string {
	var out []string
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "X-Note" {
			out = append(out, headers[i+1])
		}
	}
	return out
}

// Both ways of reaching a server behave alike.
func eachWay(t *testing.T, fn func(t *testing.T, h testenv.HTTP)) {
	t.Run("in-process", func(t *testing.T) { fn(t, testenv.HTTP{Handler: echo()}) })
	t.Run("over TCP", func(t *testing.T) {
		srv := httptest.NewServer(echo())
		t.Cleanup(srv.Close)
		fn(t, testenv.HTTP{URL: srv.URL})
	})
}

// Do sends the method, body, default and own headers as documented.
func TestHTTPDo(t *testing.T) {
	eachWay(t, func(t *testing.T, h testenv.HTTP) {
		h.Header = http.Header{"User-Agent": {"suite"}}
		var got struct {
			Method, Body string
			Note, UA     []string
		}
		for _, tt := range []struct {
			name        string
			body        any
			headers     []string
			wantBody    string
			wantCT      string
			wantDefault []string
		}{
			{"no body", nil, nil, "", "", []string{"suite"}},
			{"a string as given", `{"a":1}`, nil, `{"a":1}`, "", []string{"suite"}},
			{"bytes as given, with the call's content type", []byte("x=1"), []string{"Content-Type", "text/plain"}, "x=1", "text/plain", []string{"suite"}},
			{"a value as JSON", map[string]int{"a": 1}, nil, `{"a":1}`, "application/json", []string{"suite"}},
			{"the call's header replaces the default", nil, []string{"User-Agent", "mine"}, "", "", []string{"mine"}},
			{"a name given twice sends both", nil, []string{"X-Note", "m"}, "", "", []string{"suite"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res := h.MustDo(t, http.StatusTeapot, "PATCH", "/echo", tt.body, append([]string{"X-Note", "n"}, tt.headers...)...)
				res.Decode(t, &got)
				if got.Method != "PATCH" || got.Body != tt.wantBody || fmt.Sprint(got.Note) != fmt.Sprint(append([]string{"n"}, wantNote(tt.headers)...)) || fmt.Sprint(got.UA) != fmt.Sprint(tt.wantDefault) {
					t.Errorf("sent: got %+v, want PATCH %q with X-Note n and User-Agent %v", got, tt.wantBody, tt.wantDefault)
				}
				if ct := res.Header.Get("X-Seen-Content-Type"); ct != tt.wantCT {
					t.Errorf("Content-Type: got %q, want %q", ct, tt.wantCT)
				}
			})
		}
	})
}

// Login, MustLogin and Refresh read the tokens and the refresh cookie.
func TestHTTPLoginAndRefresh(t *testing.T) {
	eachWay(t, func(t *testing.T, h testenv.HTTP) {
		s := h.MustLogin(t, "a@b.test", "right")
		want := testenv.Session{Status: 200, AccessToken: "lka_a@b.test", CSRFToken: "c1", RefreshToken: "rt-1",
			ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Response: s.Response}
		if s != want {
			t.Fatalf("login: got %+v, want %+v", s, want)
		}
		if fmt.Sprint(s.Bearer(), s.Cookie(), s.CookieCSRF()) !=
			"[Authorization Bearer lka_a@b.test] [Cookie __Host-access=lka_a@b.test] [Cookie __Host-access=lka_a@b.test X-CSRF-Token c1]" {
			t.Errorf("header pairs: got %q %q %q", s.Bearer(), s.Cookie(), s.CookieCSRF())
		}
		if bad := h.Login(t, "a@b.test", "wrong"); bad.Status != 401 || bad.AccessToken != "" || bad.RefreshToken != "" {
			t.Errorf("wrong password: got %+v, want 401 and no tokens", bad)
		}
		if r := h.Refresh(t, s.RefreshToken); r.Status != 200 || r.AccessToken != "lka_2" || r.RefreshToken != "rt-2" {
			t.Errorf("refresh: got %+v, want 200 lka_2 rt-2", r)
		}
		if r := h.Refresh(t, "rt-0"); r.Status != 401 {
			t.Errorf("refresh with an unknown token: got %d, want 401", r.Status)
		}
	})
}

// An in-process request comes from RemoteAddr.
func TestHTTPRemoteAddr(t *testing.T) {
	h := testenv.HTTP{Handler: echo(), RemoteAddr: "203.0.113.9:4000"}
	var got struct{ Peer string }
	h.Do(t, "GET", "/echo", nil).Decode(t, &got)
	if got.Peer != "203.0.113.9:4000" {
		t.Fatalf("peer: got %q, want 203.0.113.9:4000", got.Peer)
	}
}

// recordingTB notes Errorf instead of failing, to watch Do report.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// A request that gets no answer is an error of the test and a Response
// with status 0, from any goroutine.
func TestHTTPNoAnswer(t *testing.T) {
	srv := httptest.NewServer(echo())
	srv.Close()
	tb := &recordingTB{TB: t}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := (testenv.HTTP{URL: srv.URL}).Do(tb, "GET", "/echo", nil); res.Status != 0 || res.Header == nil {
				t.Errorf("got status %d, header %v, want 0 and an empty header", res.Status, res.Header)
			}
		}()
	}
	wg.Wait()
	if len(tb.errors) != 2 {
		t.Fatalf("errors reported: got %q, want two", tb.errors)
	}
}
