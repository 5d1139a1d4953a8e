package main

import (
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// keyFields are the flags for the writable fields of a key, shared by
// create and update. Only the flags a user set are sent.
type keyFields struct {
	fs                                                   *pflag.FlagSet
	name, description, ownerEmail, ownerName, ownerPhone string
	enabled                                              bool
	expires                                              string
	permissions                                          []string
	rateLimit                                            int64
	rateWindow                                           time.Duration
	maxDevices                                           int64
	credits, refillAmount                                int64
	refillInterval                                       string
	meta                                                 string
	noExpires, noRateLimit, noCredits, noRefill          bool
}

// bind registers the flags; update adds the ones that clear a field.
func (k *keyFields) bind(cmd *cobra.Command, f *apiFlags, update bool) {
	fs := cmd.Flags()
	k.fs = fs
	clear := ""
	if update {
		clear = "; an empty value clears it"
	}
	fs.StringVar(&k.name, "name", "", "name")
	fs.StringVar(&k.description, "description", "", "description")
	fs.StringVar(&k.ownerEmail, "owner-email", "", "owner's email"+clear)
	fs.StringVar(&k.ownerName, "owner-name", "", "owner's name"+clear)
	fs.StringVar(&k.ownerPhone, "owner-phone", "", "owner's phone"+clear)
	fs.BoolVar(&k.enabled, "enabled", true, "whether the key verifies (--enabled=false disables it)")
	fs.StringVar(&k.expires, "expires", "", "expiry: RFC 3339 time or a duration from now like 720h")
	fs.StringSliceVar(&k.permissions, "permission", nil, "permission name (repeatable, or comma-separated)")
	fs.Int64Var(&k.rateLimit, "rate-limit", 0, "verifications allowed per --rate-window (0: unlimited)")
	fs.DurationVar(&k.rateWindow, "rate-window", time.Hour, "rate-limit window, whole seconds")
	fs.Int64Var(&k.maxDevices, "max-devices", 0, "distinct device ids allowed (0: unlimited)")
	fs.Int64Var(&k.credits, "credits", 0, "remaining uses (unset: unlimited)")
	fs.Int64Var(&k.refillAmount, "refill-amount", 0, "credits are reset to this each --refill-interval")
	fs.StringVar(&k.refillInterval, "refill-interval", "", "hour, day, week or month")
	fs.StringVar(&k.meta, "meta", "", `JSON object returned on verify, like '{"plan":"pro"}'`)
	_ = cmd.RegisterFlagCompletionFunc("refill-interval", fixedValues("hour", "day", "week", "month"))
	_ = cmd.RegisterFlagCompletionFunc("permission", completePermissions(f))
	if update {
		fs.StringSliceVar(&k.permissions, "permissions", nil, "the whole permission set, comma-separated (\"\" for none)")
		fs.BoolVar(&k.noExpires, "no-expires", false, "clear the expiry: never expires")
		fs.BoolVar(&k.noRateLimit, "no-rate-limit", false, "clear the rate limit")
		fs.BoolVar(&k.noCredits, "no-credits", false, "clear the credits: unlimited uses")
		fs.BoolVar(&k.noRefill, "no-refill", false, "keep the credits but stop refilling them")
		cmd.MarkFlagsMutuallyExclusive("expires", "no-expires")
		cmd.MarkFlagsMutuallyExclusive("rate-limit", "no-rate-limit")
		cmd.MarkFlagsMutuallyExclusive("rate-window", "no-rate-limit")
		cmd.MarkFlagsMutuallyExclusive("credits", "no-credits")
		cmd.MarkFlagsMutuallyExclusive("refill-amount", "no-credits")
		cmd.MarkFlagsMutuallyExclusive("refill-amount", "no-refill")
		cmd.MarkFlagsMutuallyExclusive("refill-interval", "no-refill")
		_ = cmd.RegisterFlagCompletionFunc("permissions", completePermissions(f))
	}
}

func (k *keyFields) set(name string) bool { return k.fs.Changed(name) }

// rateLimitValue is the rate limit the flags ask for, nil for none.
func (k *keyFields) rateLimitValue() (*latchkey.RateLimit, error) {
	switch {
	case k.rateLimit < 0:
		return nil, usageErrorf("--rate-limit must not be negative (0: unlimited), got %d", k.rateLimit)
	case k.rateWindow < time.Second || k.rateWindow%time.Second != 0:
		return nil, usageErrorf("--rate-window must be a whole number of seconds, at least 1s, got %s", k.rateWindow)
	case k.rateLimit == 0:
		return nil, nil
	}
	return &latchkey.RateLimit{Limit: k.rateLimit, WindowSeconds: int64(k.rateWindow / time.Second)}, nil
}

// metaValue is --meta as JSON, refused unless it is an object.
func (k *keyFields) metaValue() (json.RawMessage, error) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(k.meta), &obj); err != nil || obj == nil {
		return nil, usageErrorf("--meta: want a JSON object like '{\"plan\":\"pro\"}', got %q", k.meta)
	}
	return json.RawMessage(k.meta), nil
}

// checkRefill refuses a --refill-interval that is not one of the four.
func (k *keyFields) checkRefill() error {
	if k.set("refill-interval") {
		switch k.refillInterval {
		case "hour", "day", "week", "month":
		default:
			return usageErrorf("--refill-interval: must be hour, day, week or month, got %q", k.refillInterval)
		}
	}
	return nil
}

// create returns the KeyCreate the flags describe.
func (k *keyFields) create() (*latchkey.KeyCreate, error) {
	c := &latchkey.KeyCreate{Name: k.name, Description: k.description, Permissions: k.permissions, MaxDevices: k.maxDevices}
	opt := func(flag, v string) *string {
		if k.set(flag) && v != "" {
			return &v
		}
		return nil
	}
	c.OwnerEmail, c.OwnerName, c.OwnerPhone = opt("owner-email", k.ownerEmail), opt("owner-name", k.ownerName), opt("owner-phone", k.ownerPhone)
	if k.set("enabled") {
		c.Enabled = &k.enabled
	}
	if k.expires != "" {
		t, err := parseExpiry(k.expires)
		if err != nil {
			return nil, err
		}
		c.ExpiresAt = &t
	}
	rl, err := k.rateLimitValue()
	if err != nil {
		return nil, err
	}
	c.RateLimit = rl
	if err := k.checkRefill(); err != nil {
		return nil, err
	}
	if k.set("credits") || k.set("refill-amount") || k.set("refill-interval") {
		c.Credits = &latchkey.Credits{Remaining: k.credits, RefillInterval: latchkey.RefillInterval(k.refillInterval)}
		if k.set("refill-amount") {
			c.Credits.RefillAmount = &k.refillAmount
		}
	}
	if k.set("meta") {
		if c.Meta, err = k.metaValue(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// patch returns the JSON merge patch the flags describe: set flags only,
// null for a cleared field. current reads the key, for a rate limit or
// credits of which only a part is changed.
func (k *keyFields) patch(current func() (*latchkey.Key, error)) (map[string]any, error) {
	p := map[string]any{}
	for flag, field := range map[string]string{"name": "name", "description": "description"} {
		if k.set(flag) {
			p[field] = k.fs.Lookup(flag).Value.String()
		}
	}
	for flag, field := range map[string]string{"owner-email": "owner_email", "owner-name": "owner_name", "owner-phone": "owner_phone"} {
		if k.set(flag) {
			if v := k.fs.Lookup(flag).Value.String(); v != "" {
				p[field] = v
			} else {
				p[field] = nil
			}
		}
	}
	if k.set("enabled") {
		p["enabled"] = k.enabled
	}
	if k.noExpires {
		p["expires_at"] = nil
	} else if k.set("expires") {
		t, err := parseExpiry(k.expires)
		if err != nil {
			return nil, err
		}
		p["expires_at"] = t
	}
	if k.set("permission") || k.set("permissions") {
		p["permissions"] = append([]string{}, k.permissions...)
	}
	if k.set("max-devices") {
		if k.maxDevices < 0 {
			return nil, usageErrorf("--max-devices must not be negative (0: unlimited), got %d", k.maxDevices)
		}
		p["max_devices"] = k.maxDevices
	}
	if k.set("meta") {
		m, err := k.metaValue()
		if err != nil {
			return nil, err
		}
		p["meta"] = m
	}
	if err := k.checkRefill(); err != nil {
		return nil, err
	}
	var cur *latchkey.Key
	load := func() (*latchkey.Key, error) {
		if cur != nil {
			return cur, nil
		}
		var err error
		cur, err = current()
		return cur, err
	}
	switch {
	case k.noRateLimit:
		p["rate_limit"] = nil
	case k.set("rate-limit") || k.set("rate-window"):
		if !k.set("rate-limit") {
			// A new window keeps the limit the key has.
			c, err := load()
			if err != nil {
				return nil, err
			}
			if c.RateLimit == nil {
				return nil, usageErrorf("--rate-window: the key has no rate limit; set --rate-limit too")
			}
			k.rateLimit = c.RateLimit.Limit
		} else if !k.set("rate-window") {
			c, err := load()
			if err != nil {
				return nil, err
			}
			if c.RateLimit != nil {
				k.rateWindow = c.RateLimit.Window()
			}
		}
		rl, err := k.rateLimitValue()
		if err != nil {
			return nil, err
		}
		if rl == nil {
			p["rate_limit"] = nil
		} else {
			p["rate_limit"] = rl
		}
	}
	switch {
	case k.noCredits:
		p["credits"] = nil
	case k.set("credits") || k.set("refill-amount") || k.set("refill-interval") || k.noRefill:
		// Credits are replaced whole: the parts not set are the key's.
		remaining, interval := k.credits, k.refillInterval
		var amount *int64
		if k.set("refill-amount") {
			amount = &k.refillAmount
		}
		needRefill := !k.noRefill && (!k.set("refill-amount") || !k.set("refill-interval"))
		if !k.set("credits") || needRefill {
			c, err := load()
			if err != nil {
				return nil, err
			}
			if cc := c.Credits; cc != nil {
				if !k.set("credits") {
					remaining = cc.Remaining
				}
				if !k.set("refill-amount") {
					amount = cc.RefillAmount
				}
				if !k.set("refill-interval") {
					interval = string(cc.RefillInterval)
				}
			} else if !k.set("credits") {
				return nil, usageErrorf("the key has unlimited uses; set --credits too")
			}
		}
		if k.noRefill {
			amount, interval = nil, ""
		}
		credits := map[string]any{"remaining": remaining}
		if amount != nil || interval != "" {
			credits["refill_amount"], credits["refill_interval"] = amount, interval
		}
		p["credits"] = credits
	}
	if len(p) == 0 {
		return nil, usageErrorf("nothing to update: set at least one flag (see latchkey keys update --help)")
	}
	return p, nil
}
