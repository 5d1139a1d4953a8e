package httpx

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether a host, with or without a port (a Host
// header, a listen address's host), names this machine only: localhost,
// a *.localhost name or a loopback address. Browsers keep Secure cookies
// on such an origin over plain HTTP, and on no other.
func IsLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}
