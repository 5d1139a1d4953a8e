package latchkey_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s, h, start := latchkey.NewSecret("lk")
		if !strings.HasPrefix(s, "lk_") || len(s) != 3+43+6 {
			t.Fatalf("got %q, want lk_ + 49 chars", s)
		}
		if !latchkey.CheckSecret(s) {
			t.Fatalf("CheckSecret(%q) = false, want true", s)
		}
		if h != latchkey.HashSecret(s) {
			t.Fatal("hash mismatch")
		}
		if start != s[:7] {
			t.Fatalf("start got %q, want %q", start, s[:7])
		}
		if seen[s] {
			t.Fatal("duplicate secret")
		}
		seen[s] = true
	}
}

func TestCheckSecret(t *testing.T) {
	good, _, _ := latchkey.NewSecret("acme")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, tt := range []struct {
		name string
		in   string
		want bool
	}{
		{"good", good, true},
		{"empty", "", false},
		{"no prefix", good[5:], false},
		{"typo in body", flip(good, 10), false},
		{"typo in checksum", flip(good, len(good)-1), false},
		{"truncated", good[:len(good)-1], false},
		{"too long", good + "a", false},
		{"bad char", good[:10] + "-" + good[11:], false},
		{"other prefix same body", "lk" + good[4:], false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := latchkey.CheckSecret(tt.in); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	for in, ok := range map[string]bool{"lk": true, "acme2": true, "": false, "2ab": false, "A": false, "a_b": false, "abcdefghijklmnopq": false} {
		if got := latchkey.ValidatePrefix(in) == nil; got != ok {
			t.Errorf("ValidatePrefix(%q) ok=%v, want %v", in, got, ok)
		}
	}
}

func BenchmarkCheckAndHash(b *testing.B) {
	s, _, _ := latchkey.NewSecret("lk")
	b.ReportAllocs()
	for b.Loop() {
		if !latchkey.CheckSecret(s) {
			b.Fatal("bad")
		}
		_ = latchkey.HashSecret(s)
	}
}
