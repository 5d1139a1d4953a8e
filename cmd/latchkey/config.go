package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/pflag"
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
}

// DefaultConfig returns the defaults of DESIGN §5.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", DatabaseURL: "latchkey.db", LogLevel: "info", LogFormat: "text"}
}

// setting ties a Config field to its variable and flag. A secret
// setting's value (from the environment) is never shown as the flag's
// default in --help.
type setting struct {
	env, flag, usage string
	dst              *string
	secret           bool
}

func (c *Config) settings() []setting {
	return []setting{
		{"LATCHKEY_LISTEN", "listen", "address to serve on (host:port; port 0 picks a free one)", &c.Listen, false},
		{"LATCHKEY_DATABASE_URL", "database-url", "SQLite file path or postgres:// URL", &c.DatabaseURL, true},
		{"LATCHKEY_REDIS_URL", "redis-url", "redis:// URL: rate-limit counters shared by several instances (unset: each instance counts alone)", &c.RedisURL, true},
		{"LATCHKEY_ADMIN_SECRET", "admin-secret", "enables the operator's X-Admin-Secret header (prefer the variable: flags show in ps)", &c.AdminSecret, true},
		{"LATCHKEY_LOG_LEVEL", "log-level", "debug, info, warn or error", &c.LogLevel, false},
		{"LATCHKEY_LOG_FORMAT", "log-format", "text or json", &c.LogFormat, false},
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
	return nil
}
