package main

import (
	"fmt"
	"net"
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

// setting ties a Config field to its variable and flag.
type setting struct {
	env, flag, usage string
	dst              *string
}

func (c *Config) settings() []setting {
	return []setting{
		{"LATCHKEY_LISTEN", "listen", "address to serve on (host:port; port 0 picks a free one)", &c.Listen},
		{"LATCHKEY_DATABASE_URL", "database-url", "SQLite file path or postgres:// URL", &c.DatabaseURL},
		{"LATCHKEY_REDIS_URL", "redis-url", "redis:// URL: rate-limit counters shared by several instances (unset: each instance counts alone)", &c.RedisURL},
		{"LATCHKEY_ADMIN_SECRET", "admin-secret", "enables the operator's X-Admin-Secret header (prefer the variable: flags show in ps)", &c.AdminSecret},
		{"LATCHKEY_LOG_LEVEL", "log-level", "debug, info, warn or error", &c.LogLevel},
		{"LATCHKEY_LOG_FORMAT", "log-format", "text or json", &c.LogFormat},
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
	for _, s := range c.settings() {
		fs.StringVar(s.dst, s.flag, *s.dst, s.usage+" ["+s.env+"]")
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
