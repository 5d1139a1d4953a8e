package auth

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// This file works out a request's client address: the socket's peer, or,
// when that peer is one of Authenticator.TrustedProxies, the address the proxies
// say they were reached from in X-Forwarded-For.
//
// X-Forwarded-For is a list each proxy appends its own peer to, so every
// entry was written by the hop named just right of it (the last one by the
// socket's peer). Read from the right, an entry is believable only while
// every hop right of it is trusted: the first untrusted address is the
// client as our outermost trusted proxy saw it, and whatever stands left of
// it the client may have written itself. An entry that is not an address
// ("unknown", a typo, an obfuscated name) was written by a trusted hop that
// could not name its peer; the walk stops there and answers that trusted
// hop, because reading on would believe an entry written by a hop nobody
// vouches for, which may be the client spoofing an address.

type clientIPKey struct{}

// WithClientIP resolves each request's client address once and stores it
// in the request's context, where ClientIP and every handler find it.
// Without TrustedProxies it returns h: every address is the socket's peer.
func (a *Authenticator) WithClientIP(h http.Handler) http.Handler {
	if len(a.TrustedProxies) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := resolveClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.TrustedProxies)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

// ClientIP is the request's client address, as the login throttle counts
// it and audit events and created_ip record it, under TrustedProxies: the
// one WithClientIP stored, or resolved now.
func (a *Authenticator) ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return resolveClientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.TrustedProxies)
}

// resolveClientIP returns the client address of a request from remoteAddr
// (the socket's peer, "host:port") and its X-Forwarded-For header values, in
// order: the peer unless it is in trusted; then the right-most entry that is
// not trusted, or the left-most when all are, stopping at the first entry
// that is not an address (see the file comment). Addresses come out in
// canonical form, IPv4-mapped IPv6 as IPv4, without ports or zones. A peer
// that is no address at all (a Unix socket) comes out as it came in.
func resolveClientIP(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	peer, ok := parseHop(remoteAddr)
	if !ok {
		if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
			return host
		}
		return remoteAddr
	}
	if len(xff) == 0 || !isTrusted(peer, trusted) {
		return peer.String()
	}
	last := peer // the nearest hop known to be trusted
	entries := strings.Split(strings.Join(xff, ","), ",")
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseHop(entries[i])
		if !ok {
			return last.String()
		}
		if !isTrusted(a, trusted) {
			return a.String()
		}
		last = a
	}
	return last.String()
}

// parseHop reads one address as a peer or an X-Forwarded-For entry writes
// it: "192.0.2.1", "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:443", with spaces around. It drops a zone and unmaps an
// IPv4-mapped IPv6 address.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			a, err = ap.Addr(), nil
		} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil || !a.IsValid() {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// isTrusted reports whether a (unmapped, without zone) lies in one of the
// prefixes. A prefix written as IPv4-mapped IPv6 (::ffff:10.0.0.0/104)
// matches the IPv4 addresses it stands for.
func isTrusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Contains(a) {
			return true
		}
	}
	return false
}
