package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheap is a Hasher fast enough for tests that hash many times.
var cheap = &Hasher{Time: 1, MemoryKiB: 64, Threads: 1}

// MustHash hashes pw with h.
func MustHash(tb testing.TB, h *Hasher, pw string) string {
	tb.Helper()
	s, err := h.Hash(pw)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return s
}

// MustVerify reports whether pw matches encoded, failing on an error.
func MustVerify(tb testing.TB, h *Hasher, encoded, pw string) bool {
	tb.Helper()
	ok, err := h.Verify(encoded, pw)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return ok
}

// TestRoundTrip checks a hash verifies its password and no other.
func TestRoundTrip(t *testing.T) {
	h := cheap
	if !MustVerify(t, New(), MustHash(t, New(), "production parameters"), "production parameters") {
		t.Error("Verify(Hash(pw)) with New(): got false, want true")
	}
	for _, pw := range []string{"correct horse battery staple", "", "ünïcødé pässwörd ✓", strings.Repeat("x", 256)} {
		encoded := MustHash(t, h, pw)
		if !MustVerify(t, h, encoded, pw) {
			t.Errorf("Verify(Hash(%q)): got false, want true", pw)
		}
		if MustVerify(t, h, encoded, pw+"x") {
			t.Errorf("Verify(Hash(%q), %q): got true, want false", pw, pw+"x")
		}
	}
}

// TestHashFormat checks the PHC string: argon2id with the default parameters, salt and key lengths, no password in it.
func TestHashFormat(t *testing.T) {
	encoded := MustHash(t, New(), "correct horse battery staple")
	wantPrefix := "$argon2id$v=19$m=19456,t=2,p=1$"
	if !strings.HasPrefix(encoded, wantPrefix) {
		t.Fatalf("got %q, want prefix %q", encoded, wantPrefix)
	}
	p, err := decode(encoded)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(p.salt) != SaltLen || len(p.key) != KeyLen {
		t.Errorf("salt %d bytes, key %d bytes: want %d and %d", len(p.salt), len(p.key), SaltLen, KeyLen)
	}
	if strings.Contains(encoded, "correct horse") {
		t.Error("the hash contains the password")
	}
	if other := MustHash(t, New(), "correct horse battery staple"); other == encoded {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// TestWrongPassword checks near misses, other case and the empty password do not verify.
func TestWrongPassword(t *testing.T) {
	encoded := MustHash(t, cheap, "the right password")
	tests := []string{"the wrong password", "the right passwor", "the right password ", "The right password", ""}
	for _, pw := range tests {
		t.Run(pw, func(t *testing.T) {
			if MustVerify(t, cheap, encoded, pw) {
				t.Errorf("Verify(%q): got true, want false", pw)
			}
		})
	}
}

// TestReferenceVector checks interoperability with the argon2 reference
// implementation (phc-winner-argon2, test.c: argon2id, t=2, m=2^16, p=1).
func TestReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if !MustVerify(t, New(), ref, "password") {
		t.Errorf("Verify(reference hash, password): got false, want true")
	}
	if MustVerify(t, New(), ref, "Password") {
		t.Errorf("Verify(reference hash, Password): got true, want false")
	}
}

// TestParametersHonoured checks that Hash writes and uses its Hasher's
// parameters and that Verify uses the string's, not its own.
func TestParametersHonoured(t *testing.T) {
	tests := []struct {
		h    *Hasher
		want string
	}{
		{&Hasher{Time: 1, MemoryKiB: 64, Threads: 1}, "m=64,t=1,p=1"},
		{&Hasher{Time: 3, MemoryKiB: 128, Threads: 2}, "m=128,t=3,p=2"},
		{&Hasher{Time: 2, MemoryKiB: 32, Threads: 4}, "m=32,t=2,p=4"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			encoded := MustHash(t, tt.h, "pw")
			if got := strings.Split(encoded, "$")[3]; got != tt.want {
				t.Errorf("parameters: got %q, want %q", got, tt.want)
			}
			p, err := decode(encoded)
			if err != nil {
				t.Fatal(err)
			}
			want := argon2.IDKey([]byte("pw"), p.salt, tt.h.Time, tt.h.MemoryKiB, tt.h.Threads, KeyLen)
			if string(p.key) != string(want) {
				t.Errorf("key: got %x, want %x", p.key, want)
			}
			// A Hasher with other parameters verifies with the string's.
			if !MustVerify(t, New(), encoded, "pw") {
				t.Errorf("Verify with other parameters: got false, want true")
			}
			if tt.h.NeedsRehash(encoded) {
				t.Errorf("NeedsRehash of its own hash: got true, want false")
			}
			if !New().NeedsRehash(encoded) {
				t.Errorf("New().NeedsRehash(%s): got false, want true", tt.want)
			}
		})
	}
	if New().NeedsRehash(MustHash(t, New(), "pw")) {
		t.Error("NeedsRehash of a fresh hash: got true, want false")
	}
}

// TestHashRefusesBadParameters checks Hash refuses parameters outside the bounds.
func TestHashRefusesBadParameters(t *testing.T) {
	tests := []Hasher{
		{},
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 7, Threads: 1},
		{Time: 1, MemoryKiB: 16, Threads: 4},
		{Time: MaxTime + 1, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: MaxMemoryKiB + 1, Threads: 1},
		{Time: 1, MemoryKiB: 1024, Threads: MaxThreads + 1},
	}
	for _, h := range tests {
		t.Run(fmt.Sprintf("t=%d,m=%d,p=%d", h.Time, h.MemoryKiB, h.Threads), func(t *testing.T) {
			if s, err := h.Hash("pw"); err == nil {
				t.Errorf("Hash: got %q, want an error", s)
			}
		})
	}
}

// TestVerifyRefusesMalformed checks Verify refuses every malformed hash, and one whose parameters exceed the bounds, as an error.
func TestVerifyRefusesMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	phc := func(alg, v, params, salt, key string) string {
		return "$" + alg + "$" + v + "$" + params + "$" + salt + "$" + key
	}
	valid := phc("argon2id", "v=19", "m=64,t=1,p=1", salt, key)
	if _, err := cheap.Verify(valid, "pw"); err != nil {
		t.Fatalf("the valid base string: %v", err)
	}
	tests := []struct {
		name, encoded string
		bounds        bool // refused for its parameters' size
	}{
		{"empty", "", false},
		{"dollar only", "$", false},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", false},
		{"argon2i", phc("argon2i", "v=19", "m=64,t=1,p=1", salt, key), false},
		{"argon2d", phc("argon2d", "v=19", "m=64,t=1,p=1", salt, key), false},
		{"no leading dollar", valid[1:], false},
		{"trailing dollar", valid + "$", false},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key, false},
		{"version 16", phc("argon2id", "v=16", "m=64,t=1,p=1", salt, key), false},
		{"version letters", phc("argon2id", "v=x", "m=64,t=1,p=1", salt, key), false},
		{"params reordered", phc("argon2id", "v=19", "t=1,m=64,p=1", salt, key), false},
		{"param missing", phc("argon2id", "v=19", "m=64,t=1", salt, key), false},
		{"param extra", phc("argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, key), false},
		{"param empty", phc("argon2id", "v=19", "m=,t=1,p=1", salt, key), false},
		{"param negative", phc("argon2id", "v=19", "m=-64,t=1,p=1", salt, key), false},
		{"param plus", phc("argon2id", "v=19", "m=+64,t=1,p=1", salt, key), false},
		{"param leading zero", phc("argon2id", "v=19", "m=064,t=1,p=1", salt, key), false},
		{"param overflow", phc("argon2id", "v=19", "m=99999999999,t=1,p=1", salt, key), false},
		{"param spaces", phc("argon2id", "v=19", "m=64, t=1, p=1", salt, key), false},
		{"t zero", phc("argon2id", "v=19", "m=64,t=0,p=1", salt, key), true},
		{"p zero", phc("argon2id", "v=19", "m=64,t=1,p=0", salt, key), true},
		{"m below 8p", phc("argon2id", "v=19", "m=15,t=1,p=2", salt, key), true},
		{"t huge", phc("argon2id", "v=19", "m=64,t=4294967295,p=1", salt, key), true},
		{"m 4 GiB", phc("argon2id", "v=19", "m=4194304,t=1,p=1", salt, key), true},
		{"p 255", phc("argon2id", "v=19", "m=65536,t=1,p=255", salt, key), true},
		{"p 256", phc("argon2id", "v=19", "m=65536,t=1,p=256", salt, key), true},
		{"salt empty", phc("argon2id", "v=19", "m=64,t=1,p=1", "", key), true},
		{"salt short", phc("argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", key), true},
		{"salt padded", phc("argon2id", "v=19", "m=64,t=1,p=1", salt+"==", key), false},
		{"salt url alphabet", phc("argon2id", "v=19", "m=64,t=1,p=1", "____________________", key), false},
		{"salt not canonical", phc("argon2id", "v=19", "m=64,t=1,p=1", "MDEyMzQ1Njc4OWFiY2RlZh", key), false},
		{"key empty", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, ""), true},
		{"key short", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, "AAAA"), true},
		{"key long", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, base64.RawStdEncoding.EncodeToString(make([]byte, 65))), true},
		{"huge", valid + strings.Repeat("A", 1<<20), false},
		{"salt CRLF", phc("argon2id", "v=19", "m=64,t=1,p=1", salt+"\r\n", key), false},
		{"key newline", phc("argon2id", "v=19", "m=64,t=1,p=1", salt, key[:10]+"\n"+key[10:]), false},
		{"NUL", phc("argon2id", "v=19", "m=64,t=1,p=1\x00", salt, key), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			ok, err := cheap.Verify(tt.encoded, "pw")
			if err == nil || ok {
				t.Fatalf("Verify: got %v, %v, want false and an error", ok, err)
			}
			if got := errors.Is(err, errBounds); got != tt.bounds {
				t.Errorf("refused for its bounds: got %v (%v), want %v", got, err, tt.bounds)
			}
			if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key) {
				t.Errorf("error %q echoes the hash", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v: a refused hash must cost nothing", d)
			}
		})
	}
}

// FuzzDecode checks that the parser never panics, refuses anything Hash
// would not write, and that what it accepts re-encodes to the same string.
// The seeds run in every go test.
func FuzzDecode(f *testing.F) {
	f.Add(MustHash(f, cheap, "pw"))
	f.Add(MustHash(f, &Hasher{Time: 2, MemoryKiB: 128, Threads: 2}, ""))
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$$$$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := decode(s)
		if err != nil {
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("decode accepted parameters out of bounds: %v", err)
		}
		if got := p.encode(); got != s {
			t.Fatalf("re-encoded: got %q, want %q", got, s)
		}
		// Verify what is cheap to verify: it must not fail or panic.
		if p.memory <= 1024 && p.time <= 2 {
			if _, err := cheap.Verify(s, "pw"); err != nil {
				t.Fatalf("Verify of a decodable hash: %v", err)
			}
		}
	})
}

// BenchmarkHash measures one hash with the production parameters (the
// cost of a login, and of each guess) and with OWASP's other argon2id
// configurations, for re-tuning New.
func BenchmarkHash(b *testing.B) {
	for _, bb := range []struct {
		name string
		h    *Hasher
	}{
		{"New", New()},
		{"m=47104,t=1,p=1", &Hasher{Time: 1, MemoryKiB: 47104, Threads: 1}},
		{"m=65536,t=1,p=1", &Hasher{Time: 1, MemoryKiB: 65536, Threads: 1}},
		{"m=65536,t=3,p=1", &Hasher{Time: 3, MemoryKiB: 65536, Threads: 1}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bb.h.Hash("correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
