// Package password hashes passwords with argon2id (golang.org/x/crypto/argon2)
// into PHC strings, $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>,
// with salt and key in unpadded standard base64. Verify reads the
// parameters from the string, so hashes made with older parameters keep
// verifying after New's change.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PasswordHasher = (*Hasher)(nil)

// Production parameters: OWASP's argon2id baseline (Password Storage Cheat
// Sheet), 19 MiB of memory, 2 passes, 1 lane. They take tens of
// milliseconds on a server core, and the memory bounds what concurrent
// logins cost: 50 at once need about 1 GiB, where 64 MiB would need 3 GiB on
// the small machines a single-binary service often runs on.
const (
	DefaultTime      = 2
	DefaultMemoryKiB = 19 * 1024
	DefaultThreads   = 1
)

// Sizes of what Hash makes.
const (
	SaltLen = 16
	KeyLen  = 32
)

// Bounds on the parameters of a hash, whether made or read from a stored
// string. The maxima keep a tampered or foreign hash from taking the server's
// memory or a minute of CPU; the minima are argon2's own.
const (
	MaxTime      = 16
	MaxMemoryKiB = 256 * 1024 // 256 MiB
	MaxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// Hasher hashes and verifies passwords with argon2id. Its parameters apply
// to new hashes; Verify uses those written in the hash. The zero Hasher is
// not usable: Hash refuses zero parameters. Use New.
type Hasher struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes (parallelism)
}

// New returns a Hasher with the production parameters.
func New() *Hasher {
	return &Hasher{Time: DefaultTime, MemoryKiB: DefaultMemoryKiB, Threads: DefaultThreads}
}

// params is one hash's decoded PHC string.
type params struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

// Hash returns the PHC string of password with a fresh 16-byte salt and a
// 32-byte key. It fails if h's parameters are out of bounds.
func (h *Hasher) Hash(password string) (string, error) {
	p := params{time: h.Time, memory: h.MemoryKiB, threads: h.Threads, salt: make([]byte, SaltLen)}
	if err := p.check(); err != nil {
		return "", fmt.Errorf("password hasher: %w", err)
	}
	if _, err := rand.Read(p.salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	p.key = argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, KeyLen)
	return p.encode(), nil
}

// Verify reports whether password matches the PHC string encoded, using the
// parameters, salt and key length written in it and comparing in constant
// time. A malformed string, another algorithm or version, or parameters out
// of bounds is an error (and false), never a panic.
func (h *Hasher) Verify(encoded, password string) (bool, error) {
	p, err := decode(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// h's (or is unreadable), so a caller that just verified the password may
// store a fresh hash.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := decode(encoded)
	return err != nil || p.time != h.Time || p.memory != h.MemoryKiB || p.threads != h.Threads ||
		len(p.salt) != SaltLen || len(p.key) != KeyLen
}

var b64 = base64.RawStdEncoding.Strict()

func (p *params) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// errMalformed does not echo the string: it is a password hash.
var errMalformed = errors.New("password hash: not an argon2id PHC string")

// decode parses a PHC string as encode writes it, and nothing else: fields
// in order, decimal numbers without sign or leading zeros, canonical
// unpadded base64.
func decode(s string) (*params, error) {
	if len(s) > 512 {
		return nil, errMalformed
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, errMalformed
	}
	v, ok := strings.CutPrefix(f[2], "v=")
	if !ok {
		return nil, errMalformed
	}
	if n, ok := parseUint(v, 1<<8-1); !ok || n != argon2.Version {
		return nil, errors.New("password hash: unsupported argon2 version")
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return nil, errMalformed
	}
	var p params
	for i, name := range []string{"m", "t", "p"} {
		val, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return nil, errMalformed
		}
		n, ok := parseUint(val, 1<<32-1)
		if !ok {
			return nil, errMalformed
		}
		switch name {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 1<<8-1 {
				return nil, fmt.Errorf("password hash: %w", errBounds)
			}
			p.threads = uint8(n)
		}
	}
	var ok1, ok2 bool
	p.salt, ok1 = decodeB64(f[4])
	p.key, ok2 = decodeB64(f[5])
	if !ok1 || !ok2 {
		return nil, errMalformed
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("password hash: %w", err)
	}
	if len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return nil, fmt.Errorf("password hash: %w: key must be %d to %d bytes", errBounds, minKeyLen, maxKeyLen)
	}
	return &p, nil
}

// decodeB64 decodes canonical unpadded standard base64 only: the decoder
// alone would also skip \r and \n.
func decodeB64(s string) ([]byte, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

var errBounds = errors.New("parameters out of bounds")

// check keeps p's cost and salt within the bounds (and argon2, which panics
// below its minima, from panicking).
func (p *params) check() error {
	switch {
	case p.time < 1 || p.time > MaxTime:
		return fmt.Errorf("%w: t must be 1 to %d", errBounds, MaxTime)
	case p.threads < 1 || p.threads > MaxThreads:
		return fmt.Errorf("%w: p must be 1 to %d", errBounds, MaxThreads)
	case p.memory < 8*uint32(p.threads) || p.memory > MaxMemoryKiB:
		return fmt.Errorf("%w: m must be 8×p to %d KiB", errBounds, MaxMemoryKiB)
	case len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen:
		return fmt.Errorf("%w: salt must be %d to %d bytes", errBounds, minSaltLen, maxSaltLen)
	}
	return nil
}

// parseUint parses a decimal number of at most max without sign or leading
// zeros.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > max {
		return 0, false
	}
	return n, true
}
