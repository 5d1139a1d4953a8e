package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/internal/inmem"
)

// Config is every setting of latchkey serve: defaults, then LATCHKEY_*
// environment variables, then flags (flags win).
type Config struct {
	Listen      string
	DatabaseURL string
	RedisURL    string
	AdminSecret string
	LogLevel    string
	LogFormat   string
	// SecretKey, when set, is the key for session signing and CSRF
	// derivation (hex or base64, 32+ bytes) instead of the one the store
	// generated at first start.
	SecretKey string
	// CacheMaxAge is the longest a cached key is trusted without a fresh
	// read from the store (a Go duration).
	CacheMaxAge string
	// StoreTimeout bounds each request's store and Redis work, so a
	// partition is answered with 503 instead of hanging.
	StoreTimeout string
	// TrustedProxies lists the CIDRs (comma-separated) whose
	// X-Forwarded-For header is believed.
	TrustedProxies string
	// RedisFailClosed makes rate-limited keys answer RATE_LIMITED while
	// Redis is down, instead of limiting per instance.
	RedisFailClosed string
	// DataDir is where the first start writes its root key and setup link
	// when stdout is not a terminal (empty: see Config.dataDir).
	DataDir string
	// WarmKeys is how many of the most recently used keys the cache loads
	// in the background at start (0: none), so a deploy does not start cold.
	WarmKeys string
}

// DefaultConfig returns the defaults the README's Settings table lists.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", DatabaseURL: "latchkey.db", LogLevel: "info", LogFormat: "text",
		CacheMaxAge: defaultCacheMaxAge.String(), StoreTimeout: defaultStoreTimeout.String(), RedisFailClosed: "false"}
}

// setting ties a Config field to its variable and flag. A secret
// setting's value (from the environment) is never shown as the flag's
// default in --help.
type setting struct {
	env, flag, usage string
	dst              *string
	secret           bool
}

// settings lists every setting once: its variable, flag, help and field.
func (c *Config) settings() []setting {
	return []setting{
		{"LATCHKEY_LISTEN", "listen", "address to serve on (host:port; port 0 picks a free one)", &c.Listen, false},
		{"LATCHKEY_DATABASE_URL", "database-url", "SQLite file path or postgres:// URL", &c.DatabaseURL, true},
		{"LATCHKEY_REDIS_URL", "redis-url", "redis:// URL: rate-limit counters shared by several instances (unset: each instance counts alone)", &c.RedisURL, true},
		{"LATCHKEY_ADMIN_SECRET", "admin-secret", "enables the operator's X-Admin-Secret header (prefer the variable: flags show in ps)", &c.AdminSecret, true},
		{"LATCHKEY_LOG_LEVEL", "log-level", "debug, info, warn or error", &c.LogLevel, false},
		{"LATCHKEY_LOG_FORMAT", "log-format", "text or json", &c.LogFormat, false},
		{"LATCHKEY_SECRET_KEY", "secret-key", "session-signing and CSRF key, hex or base64 of 32+ random bytes (unset: generated at first start and kept in the store)", &c.SecretKey, true},
		{"LATCHKEY_CACHE_MAX_AGE", "cache-max-age", "longest a cached key is trusted without a fresh read from the store", &c.CacheMaxAge, false},
		{"LATCHKEY_WARM_KEYS", "warm-keys", "how many recently used keys to load into the cache in the background at start (0: none)", &c.WarmKeys, false},
		{"LATCHKEY_STORE_TIMEOUT", "store-timeout", "deadline of each request's store and Redis work; past it the request answers 503", &c.StoreTimeout, false},
		{"LATCHKEY_TRUSTED_PROXIES", "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed", &c.TrustedProxies, false},
		{"LATCHKEY_REDIS_FAIL_CLOSED", "redis-fail-closed", "true: while Redis is down, rate-limited keys answer RATE_LIMITED instead of being limited per instance", &c.RedisFailClosed, false},
		{"LATCHKEY_DATA_DIR", "data-dir", "where the first start writes its root key and setup link when stdout is not a terminal (unset: the SQLite file's directory, or the working directory)", &c.DataDir, false},
	}
}

// LoadEnv applies LATCHKEY_* variables from getenv.
func (c *Config) LoadEnv(getenv func(string) string) {
	for _, s := range c.settings() {
		if v := getenv(s.env); v != "" {
			*s.dst = v
		}
	}
}

// BindFlags registers a flag per setting; parsing them after LoadEnv makes
// flags win.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	defaults := DefaultConfig()
	for i, s := range c.settings() {
		fs.StringVar(s.dst, s.flag, *s.dst, s.usage+" ["+s.env+"]")
		if s.secret {
			// Show the built-in default, not what the environment holds.
			fs.Lookup(s.flag).DefValue = *defaults.settings()[i].dst
		}
	}
}

// Validate names the first bad setting.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return fmt.Errorf("LATCHKEY_LISTEN / --listen: %q is not host:port", c.Listen)
	}
	if strings.TrimSpace(c.DatabaseURL) == "" {
		return fmt.Errorf("LATCHKEY_DATABASE_URL / --database-url: must not be empty")
	}
	if c.RedisURL != "" {
		if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
			return fmt.Errorf("LATCHKEY_REDIS_URL / --redis-url: must start with redis:// or rediss://")
		}
		if u, err := url.Parse(c.RedisURL); err != nil || u.Host == "" {
			// The value may hold a password: it is not repeated.
			return fmt.Errorf("LATCHKEY_REDIS_URL / --redis-url: not a valid URL like redis://:password@host:6379/0")
		}
	}
	if c.AdminSecret != "" && len(c.AdminSecret) < 16 {
		return fmt.Errorf("LATCHKEY_ADMIN_SECRET / --admin-secret: must be at least 16 characters")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("LATCHKEY_LOG_LEVEL / --log-level: must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("LATCHKEY_LOG_FORMAT / --log-format: must be text or json")
	}
	if c.SecretKey != "" {
		if _, err := c.secretKey(); err != nil {
			return err
		}
	}
	if c.CacheMaxAge != "" {
		if d, err := time.ParseDuration(c.CacheMaxAge); err != nil || d <= 0 {
			return fmt.Errorf("LATCHKEY_CACHE_MAX_AGE / --cache-max-age: must be a positive duration like 60s")
		}
	}
	if c.StoreTimeout != "" {
		if d, err := time.ParseDuration(c.StoreTimeout); err != nil || d <= 0 {
			return fmt.Errorf("LATCHKEY_STORE_TIMEOUT / --store-timeout: must be a positive duration like 5s")
		}
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if c.WarmKeys != "" {
		if n, err := strconv.Atoi(c.WarmKeys); err != nil || n < 0 || n > 10_000_000 {
			return fmt.Errorf("LATCHKEY_WARM_KEYS / --warm-keys: must be a whole number from 0 to 10000000")
		}
	}
	if c.RedisFailClosed != "" {
		if _, err := strconv.ParseBool(c.RedisFailClosed); err != nil {
			return fmt.Errorf("LATCHKEY_REDIS_FAIL_CLOSED / --redis-fail-closed: must be true or false")
		}
	}
	return nil
}

// Defaults of the settings a Config may leave empty.
const (
	defaultCacheMaxAge  = 60 * time.Second
	defaultStoreTimeout = 5 * time.Second
)

// cacheMaxAge returns CacheMaxAge (empty: the default), once Validate has
// passed.
func (c *Config) cacheMaxAge() time.Duration {
	if d, err := time.ParseDuration(c.CacheMaxAge); err == nil {
		return d
	}
	return defaultCacheMaxAge
}

// warmKeys returns WarmKeys (empty: inmem.DefaultWarmKeys), once Validate
// has passed.
func (c *Config) warmKeys() int {
	if n, err := strconv.Atoi(c.WarmKeys); err == nil {
		return n
	}
	return inmem.DefaultWarmKeys
}

// storeTimeout returns StoreTimeout (empty: the default), once Validate
// has passed.
func (c *Config) storeTimeout() time.Duration {
	if d, err := time.ParseDuration(c.StoreTimeout); err == nil {
		return d
	}
	return defaultStoreTimeout
}

// redisFailClosed returns RedisFailClosed (empty: false), once Validate has
// passed.
func (c *Config) redisFailClosed() bool {
	b, _ := strconv.ParseBool(c.RedisFailClosed)
	return b
}

// secretKey decodes SecretKey (hex, then standard or URL-safe base64).
// The error never repeats the value.
func (c *Config) secretKey() ([]byte, error) {
	v := strings.TrimSpace(c.SecretKey)
	var key []byte
	if b, err := hex.DecodeString(v); err == nil {
		key = b
	} else if b, err := base64.StdEncoding.DecodeString(v); err == nil {
		key = b
	} else if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "=")); err == nil {
		key = b
	} else {
		return nil, fmt.Errorf("LATCHKEY_SECRET_KEY / --secret-key: must be hex or base64 (for example: openssl rand -hex 32)")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("LATCHKEY_SECRET_KEY / --secret-key: must decode to at least 32 bytes, got %d", len(key))
	}
	return key, nil
}

// trustedProxies parses TrustedProxies: CIDRs or single addresses,
// separated by commas or spaces.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(c.TrustedProxies, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("LATCHKEY_TRUSTED_PROXIES / --trusted-proxies: %q is not a CIDR like 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
