package auth

import "testing"

// Sign-in is throttled per IPv4 address and per IPv6 /64.
func TestThrottleNet(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"::ffff:203.0.113.7", "::ffff:203.0.113.7"},
		{"not an ip", "not an ip"},
	} {
		if got := throttleNet(tt.ip); got != tt.want {
			t.Errorf("throttleNet(%q): got %q, want %q", tt.ip, got, tt.want)
		}
	}
}
