package auth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// mustPrefixes parses CIDRs, failing the test on a bad one.
func mustPrefixes(tb testing.TB, ss ...string) []netip.Prefix {
	tb.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			tb.Fatalf("ParsePrefix(%q): %v", s, err)
		}
		out = append(out, p.Masked())
	}
	return out
}

// The client IP is the peer, or behind trusted proxies the right-most
// untrusted X-Forwarded-For address.
func TestResolveClientIP(t *testing.T) {
	// 10.0.0.0/8 and fd00::/8 are our proxies; 198.51.100.0/24 a CDN we
	// also trust in front of them.
	trusted := mustPrefixes(t, "10.0.0.0/8", "fd00::/8", "198.51.100.0/24")
	tests := []struct {
		name   string
		peer   string
		xff    []string
		prefix []netip.Prefix // nil: trusted
		want   string
	}{
		// Untrusted peers: the header is never read.
		{"untrusted peer, no header", "203.0.113.9:5000", nil, nil, "203.0.113.9"},
		{"untrusted peer claims an address", "203.0.113.9:5000", []string{"192.0.2.1"}, nil, "203.0.113.9"},
		{"untrusted peer claims a trusted address", "203.0.113.9:5000", []string{"10.0.0.1"}, nil, "203.0.113.9"},
		{"no proxies configured", "10.0.0.1:5000", []string{"192.0.2.1"}, []netip.Prefix{}, "10.0.0.1"},
		{"untrusted IPv6 peer", "[2001:db8::7]:443", []string{"192.0.2.1"}, nil, "2001:db8::7"},

		// Trusted peers.
		{"trusted peer, no header", "10.0.0.1:5000", nil, nil, "10.0.0.1"},
		{"trusted peer, empty header", "10.0.0.1:5000", []string{""}, nil, "10.0.0.1"},
		{"one hop", "10.0.0.1:5000", []string{"192.0.2.1"}, nil, "192.0.2.1"},
		{"spaces around entries", "10.0.0.1:5000", []string{"  192.0.2.1 ,\t10.0.0.2 "}, nil, "192.0.2.1"},
		{"two trusted hops", "10.0.0.1:5000", []string{"192.0.2.1, 198.51.100.4, 10.0.0.2"}, nil, "192.0.2.1"},
		{"spoofed entry left of the client is ignored", "10.0.0.1:5000", []string{"6.6.6.6, 192.0.2.1"}, nil, "192.0.2.1"},
		{"spoofed trusted address left of the client is ignored", "10.0.0.1:5000", []string{"10.9.9.9, 192.0.2.1"}, nil, "192.0.2.1"},
		{"several headers are one list, in order", "10.0.0.1:5000", []string{"6.6.6.6", "192.0.2.1", "10.0.0.2"}, nil, "192.0.2.1"},
		{"several headers, the last one names the client", "10.0.0.1:5000", []string{"192.0.2.1", "203.0.113.5"}, nil, "203.0.113.5"},
		{"every entry trusted: the left-most", "10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, nil, "10.0.0.3"},
		{"entry with a port", "10.0.0.1:5000", []string{"192.0.2.1:61000"}, nil, "192.0.2.1"},

		// Entries that are not addresses stop the walk at the last trusted
		// hop: reading on would believe what the client wrote.
		{"garbage right of the client", "10.0.0.1:5000", []string{"6.6.6.6, unknown"}, nil, "10.0.0.1"},
		{"garbage between two trusted hops", "10.0.0.1:5000", []string{"6.6.6.6, bogus, 10.0.0.2"}, nil, "10.0.0.2"},
		{"empty entry right of the client", "10.0.0.1:5000", []string{"6.6.6.6,,"}, nil, "10.0.0.1"},
		{"garbage left of the client is never read", "10.0.0.1:5000", []string{"<script>, 192.0.2.1"}, nil, "192.0.2.1"},
		{"a name is no address", "10.0.0.1:5000", []string{"6.6.6.6, proxy.internal"}, nil, "10.0.0.1"},
		{"a CIDR is no address", "10.0.0.1:5000", []string{"6.6.6.6, 192.0.2.0/24"}, nil, "10.0.0.1"},

		// IPv6, zones and IPv4-mapped addresses.
		{"IPv6 proxy, IPv6 client", "[fd00::1]:443", []string{"2001:db8::1"}, nil, "2001:db8::1"},
		{"IPv6 client in brackets", "[fd00::1]:443", []string{"[2001:db8::1]"}, nil, "2001:db8::1"},
		{"IPv6 client in brackets with a port", "[fd00::1]:443", []string{"[2001:db8::1]:5555"}, nil, "2001:db8::1"},
		{"IPv6 client in long form comes out canonical", "[fd00::1]:443", []string{"2001:0db8:0000:0000:0000:0000:0000:0001"}, nil, "2001:db8::1"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:5000", []string{"192.0.2.1"}, nil, "192.0.2.1"},
		{"IPv4-mapped untrusted peer comes out as IPv4", "[::ffff:203.0.113.9]:5000", []string{"192.0.2.1"}, nil, "203.0.113.9"},
		{"IPv4-mapped client entry", "10.0.0.1:5000", []string{"::ffff:192.0.2.1"}, nil, "192.0.2.1"},
		{"IPv4-mapped trusted hop entry", "10.0.0.1:5000", []string{"192.0.2.1, ::ffff:10.0.0.2"}, nil, "192.0.2.1"},
		{"trusted prefix written IPv4-mapped", "10.0.0.1:5000", []string{"192.0.2.1"}, mustPrefixes(t, "::ffff:10.0.0.0/104"), "192.0.2.1"},
		{"peer with a zone", "[fe80::1%eth0]:443", []string{"192.0.2.1"}, mustPrefixes(t, "fe80::/10"), "192.0.2.1"},
		{"untrusted peer with a zone", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"client entry with a zone", "10.0.0.1:5000", []string{"fe80::9%eth0"}, nil, "fe80::9"},
		{"single-address prefix", "192.0.2.80:5000", []string{"203.0.113.1"}, mustPrefixes(t, "192.0.2.80/32"), "203.0.113.1"},
		{"next address out of a single-address prefix", "192.0.2.81:5000", []string{"203.0.113.1"}, mustPrefixes(t, "192.0.2.80/32"), "192.0.2.81"},

		// A peer that is no address (a Unix socket) is kept as it is.
		{"unix socket peer", "@", []string{"192.0.2.1"}, nil, "@"},
		{"host and port that is no address", "localhost:80", nil, nil, "localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefixes := tt.prefix
			if prefixes == nil {
				prefixes = trusted
			}
			if got := resolveClientIP(tt.peer, tt.xff, prefixes); got != tt.want {
				t.Errorf("resolveClientIP(%q, %q): got %q, want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

// TestClientIPFromContext checks that WithClientIP resolves the address
// once for everything downstream, and that a later change to the header
// does not move the answer.
func TestClientIPFromContext(t *testing.T) {
	s := &Authenticator{TrustedProxies: mustPrefixes(t, "10.0.0.0/8")}
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.1.2.3:4000"
	req.Header.Add("X-Forwarded-For", "6.6.6.6, 192.0.2.44")

	if got := s.ClientIP(req); got != "192.0.2.44" {
		t.Errorf("Authenticator.ClientIP outside the handler: got %q, want 192.0.2.44", got)
	}
	var inside string
	s.WithClientIP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A later change to the header does not move the answer.
		r.Header.Set("X-Forwarded-For", "203.0.113.1")
		inside = s.ClientIP(r)
	})).ServeHTTP(httptest.NewRecorder(), req)
	if inside != "192.0.2.44" {
		t.Errorf("inside the handler: got ClientIP %q, want 192.0.2.44", inside)
	}
}

// FuzzResolveClientIP: an untrusted peer is always the answer, and every
// answer is an address.
func FuzzResolveClientIP(f *testing.F) {
	f.Add("10.0.0.1:5000", "6.6.6.6, 192.0.2.1, 10.0.0.2")
	f.Add("[::ffff:10.0.0.1]:1", "[2001:db8::1]:80,unknown")
	f.Add("203.0.113.9:1", "10.0.0.1")
	trusted := mustPrefixes(f, "10.0.0.0/8", "fd00::/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		got := resolveClientIP(peer, []string{xff}, trusted)
		p, ok := parseHop(peer)
		if !ok {
			return
		}
		if !isTrusted(p, trusted) && got != p.String() {
			t.Fatalf("untrusted peer %q: got %q, want the peer", peer, got)
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("peer %q, X-Forwarded-For %q: got %q, not an address", peer, xff, got)
		}
	})
}
