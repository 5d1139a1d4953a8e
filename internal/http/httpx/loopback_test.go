package httpx

import "testing"

// TestIsLoopback: hosts with and without ports, names and addresses.
func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "app.localhost:1": true, "127.0.0.1": true, "127.0.0.1:8080": true,
		"[::1]:8080": true, "::1": true, "0.0.0.0:8080": false, "192.0.2.2:18557": false, "keys.example.com": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
