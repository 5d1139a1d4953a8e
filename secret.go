package latchkey

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"math/big"
	"strings"
)

// Secret format: <prefix>_<43 base62 chars of 32 random bytes><6 base62 chars
// of the CRC32 (IEEE) of everything before them>. The checksum lets Verify
// reject a mistyped or made-up key without a lookup and lets secret scanners
// match keys offline. Only the SHA-256 of a secret is ever stored.
const (
	DefaultKeyPrefix = "lk"
	secretBodyLen    = 43
	secretCRCLen     = 6
	// SecretStartLen is how many characters after "<prefix>_" Key.Start shows.
	SecretStartLen = 4
	maxPrefixLen   = 16
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var base62Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base62); i++ {
		t[base62[i]] = int8(i)
	}
	return t
}()

// SecretHash is the SHA-256 of a secret, the only form in which it is stored.
type SecretHash [32]byte

// HashSecret returns the SHA-256 of a secret without allocating for secrets
// of ordinary length.
func HashSecret(secret string) SecretHash {
	var buf [128]byte
	if len(secret) <= len(buf) {
		n := copy(buf[:], secret)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(secret))
}

// ValidatePrefix reports whether p can prefix secrets: 1–16 lowercase
// letters or digits, starting with a letter.
func ValidatePrefix(p string) error {
	if len(p) == 0 || len(p) > maxPrefixLen {
		return FieldError("key_prefix", "must be 1 to %d characters", maxPrefixLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return FieldError("key_prefix", "must be lowercase letters and digits, starting with a letter")
		}
	}
	return nil
}

// NewSecret returns a fresh secret with the prefix, its hash and its
// display start ("lk_Ab3x").
func NewSecret(prefix string) (secret string, hash SecretHash, start string) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("latchkey: crypto/rand failed: " + err.Error())
	}
	var b strings.Builder
	b.Grow(len(prefix) + 1 + secretBodyLen + secretCRCLen)
	b.WriteString(prefix)
	b.WriteByte('_')
	b.WriteString(encodeBase62(new(big.Int).SetBytes(raw[:]), secretBodyLen))
	head := b.String()
	b.WriteString(encodeBase62(big.NewInt(int64(crcString(head))), secretCRCLen))
	secret = b.String()
	return secret, HashSecret(secret), SecretStart(secret)
}

// SecretStart returns the part of a secret shown for display: its prefix,
// the underscore and the first SecretStartLen characters.
func SecretStart(secret string) string {
	i := strings.LastIndexByte(secret, '_')
	if i < 0 || len(secret) < i+1+SecretStartLen {
		return ""
	}
	return secret[:i+1+SecretStartLen]
}

// CheckSecret reports whether s has the shape of a Latchkey secret and its
// checksum matches. It does not allocate.
func CheckSecret(s string) bool {
	i := strings.LastIndexByte(s, '_')
	if i < 1 || i > maxPrefixLen || len(s)-i-1 != secretBodyLen+secretCRCLen {
		return false
	}
	for j := i + 1; j < len(s); j++ {
		if base62Index[s[j]] < 0 {
			return false
		}
	}
	var want uint64
	for j := len(s) - secretCRCLen; j < len(s); j++ {
		want = want*62 + uint64(base62Index[s[j]])
	}
	return want == uint64(crcString(s[:len(s)-secretCRCLen]))
}

var crcTable = crc32.MakeTable(crc32.IEEE)

// crcString is crc32.ChecksumIEEE over a string, without converting it to a
// byte slice (which would allocate on the verify hot path).
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crcTable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// encodeBase62 writes n in base 62, left-padded with zeros to width.
func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}
