package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newKeysCmd is `latchkey keys`: its subcommands talk to a running server
// through the client package, with the server and credential flags of
// apiFlags.
func newKeysCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := group(&cobra.Command{Use: "keys", Short: "Manage and verify keys on a running server"})
	f.bind(cmd, getenv)
	cmd.AddCommand(newKeysCreateCmd(f, stdout), newKeysListCmd(f, stdout), newKeysGetCmd(f, stdout),
		newKeysUpdateCmd(f, stdout), newKeysEnableCmd(f, stdout, true), newKeysEnableCmd(f, stdout, false),
		newKeysRevokeCmd(f, stdout), newKeysRotateCmd(f, stdout), newKeysDeleteCmd(f, stdout),
		newKeysVerifyCmd(f, stdout), newKeysUsageCmd(f, stdout), newKeysDevicesCmd(f, stdout))
	return cmd
}

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

func (k *keyFields) metaValue() (json.RawMessage, error) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(k.meta), &obj); err != nil || obj == nil {
		return nil, usageErrorf("--meta: want a JSON object like '{\"plan\":\"pro\"}', got %q", k.meta)
	}
	return json.RawMessage(k.meta), nil
}

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

// newKeysCreateCmd is `keys create`: every writable field as a flag, and
// the secret printed once.
func newKeysCreateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var k keyFields
	var kind string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print its secret (shown this once)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			in, err := k.create()
			if err != nil {
				return err
			}
			in.Kind = latchkey.KeyKind(kind)
			key, err := c.CreateKey(cmd.Context(), in)
			if err != nil {
				return err
			}
			return f.emit(stdout, key, []string{itoa(key.ID)}, func(w io.Writer) {
				printKey(w, &key.Key)
				fmt.Fprintf(w, "\nsecret (shown once): %s\n", key.Secret)
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "api", "api or root")
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedValues("api", "root"))
	k.bind(cmd, f, false)
	return cmd
}

// newKeysListCmd is `keys list`, with the list filters as flags.
func newKeysListCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var lo client.ListOptions
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			p, err := c.ListKeys(cmd.Context(), lo)
			if err != nil {
				return err
			}
			for all && p.NextCursor != nil {
				lo.Cursor = *p.NextCursor
				next, err := c.ListKeys(cmd.Context(), lo)
				if err != nil {
					return err
				}
				p.Data, p.NextCursor = append(p.Data, next.Data...), next.NextCursor
			}
			return f.emit(stdout, p, keyIDs(p.Data), func(w io.Writer) {
				printKeys(w, p.Data)
				if p.NextCursor != nil {
					fmt.Fprintf(w, "\nmore: --cursor %s (or --all)\n", *p.NextCursor)
				}
			})
		},
	}
	cmd.Flags().StringVar(&lo.Status, "status", "", "active, disabled, expired or revoked")
	cmd.Flags().StringVar(&lo.OwnerEmail, "owner-email", "", "owner's email")
	cmd.Flags().StringVar(&lo.Kind, "kind", "", "api or root")
	cmd.Flags().StringVarP(&lo.Query, "query", "q", "", "text in name, description or owner")
	cmd.Flags().IntVar(&lo.Limit, "limit", 50, "keys per page (1-1000)")
	cmd.Flags().StringVar(&lo.Cursor, "cursor", "", "next page cursor")
	cmd.Flags().BoolVar(&all, "all", false, "follow the cursor to the last page")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedValues("active", "disabled", "expired", "revoked"))
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedValues("api", "root"))
	return cmd
}

// keyCmd is a subcommand acting on one key, named by the ID argument,
// whose ids complete from the server.
func keyCmd(f *apiFlags, use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) error) *cobra.Command {
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              usageArgs(cobra.ExactArgs(1)),
		ValidArgsFunction: completeKeyIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseKeyID(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			return run(cmd, c, id)
		},
	}
}

func parseKeyID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("ID: %q is not a key id", s)
	}
	return id, nil
}

// emitKey prints one key in full.
func (f *apiFlags) emitKey(w io.Writer, k *latchkey.Key) error {
	return f.emit(w, k, []string{itoa(k.ID)}, func(w io.Writer) { printKey(w, k) })
}

func newKeysGetCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	return keyCmd(f, "get ID", "Show every field of a key", func(cmd *cobra.Command, c *client.Client, id int64) error {
		k, err := c.GetKey(cmd.Context(), id)
		if err != nil {
			return err
		}
		return f.emitKey(stdout, k)
	})
}

// newKeysUpdateCmd is `keys update`: a JSON merge patch of the flags set.
func newKeysUpdateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var k keyFields
	cmd := keyCmd(f, "update ID", "Change a key's fields; only the flags given are sent", func(cmd *cobra.Command, c *client.Client, id int64) error {
		p, err := k.patch(func() (*latchkey.Key, error) { return c.GetKey(cmd.Context(), id) })
		if err != nil {
			return err
		}
		key, err := c.UpdateKey(cmd.Context(), id, p)
		if err != nil {
			return err
		}
		return f.emitKey(stdout, key)
	})
	cmd.Example = `  latchkey keys update 42 --name "acme prod" --rate-limit 1000 --rate-window 1h
  latchkey keys update 42 --no-expires --owner-phone ""   # clear both
  latchkey keys update 42 --credits 500 --refill-amount 500 --refill-interval month
  latchkey keys update 42 --meta '{"plan":"pro"}' --permissions readApplications,writeApplications`
	k.bind(cmd, f, true)
	return cmd
}

// newKeysEnableCmd is `keys enable` (on) or `keys disable`.
func newKeysEnableCmd(f *apiFlags, stdout io.Writer, on bool) *cobra.Command {
	use, short := "enable ID", "Let a disabled key verify again"
	if !on {
		use, short = "disable ID", "Make every verification of a key answer DISABLED"
	}
	return keyCmd(f, use, short, func(cmd *cobra.Command, c *client.Client, id int64) error {
		k, err := c.UpdateKey(cmd.Context(), id, map[string]any{"enabled": on})
		if err != nil {
			return err
		}
		return f.emitKey(stdout, k)
	})
}

func newKeysRevokeCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var reason string
	cmd := keyCmd(f, "revoke ID", "Revoke a key: it never verifies again", func(cmd *cobra.Command, c *client.Client, id int64) error {
		k, err := c.RevokeKey(cmd.Context(), id, reason)
		if err != nil {
			return err
		}
		return f.emitKey(stdout, k)
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func newKeysRotateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var grace time.Duration
	cmd := keyCmd(f, "rotate ID", "Issue a new secret; the old one lives out --grace", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if grace < 0 {
			return usageErrorf("--grace must not be negative, got %s", grace)
		}
		k, err := c.RotateKey(cmd.Context(), id, grace)
		if err != nil {
			return err
		}
		return f.emit(stdout, k, []string{itoa(k.ID)}, func(w io.Writer) {
			printKey(w, &k.Key)
			fmt.Fprintf(w, "\nnew secret (shown once): %s\n", k.Secret)
		})
	})
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old secret keeps working")
	return cmd
}

func newKeysDeleteCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	return keyCmd(f, "delete ID", "Delete a key", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if err := c.DeleteKey(cmd.Context(), id); err != nil {
			return err
		}
		return f.emit(stdout, map[string]any{"id": id, "deleted": true}, []string{itoa(id)}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted key %d\n", id)
		})
	})
}

// newKeysUsageCmd is `keys usage`: verification counts by outcome in time
// buckets.
func newKeysUsageCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var bucket, since, until string
	cmd := keyCmd(f, "usage ID", "Verification counts by outcome over time", func(cmd *cobra.Command, c *client.Client, id int64) error {
		o := client.UsageOptions{Bucket: bucket}
		var err error
		if o.Since, err = parseWhen("since", since); err != nil {
			return err
		}
		if o.Until, err = parseWhen("until", until); err != nil {
			return err
		}
		buckets, err := c.KeyUsage(cmd.Context(), id, o)
		if err != nil {
			return err
		}
		p := client.Page[*latchkey.UsageBucket]{Data: buckets}
		ids := make([]string, len(p.Data))
		rows := make([][]string, len(p.Data))
		for i, b := range p.Data {
			ids[i] = b.Start.UTC().Format(time.RFC3339)
			rows[i] = []string{ids[i], itoa(b.Total), formatCounts(b.Counts)}
		}
		return f.emit(stdout, p, ids, func(w io.Writer) {
			printTable(w, []string{"START", "TOTAL", "BY CODE"}, rows)
		})
	})
	cmd.Flags().StringVar(&bucket, "bucket", "", "minute, hour or day (default hour)")
	cmd.Flags().StringVar(&since, "since", "", "from: RFC 3339 time or a duration ago like 24h (default 24h)")
	cmd.Flags().StringVar(&until, "until", "", "to: RFC 3339 time or a duration ago (default now)")
	_ = cmd.RegisterFlagCompletionFunc("bucket", fixedValues("minute", "hour", "day"))
	return cmd
}

// formatCounts prints counts by code in the order codes are checked.
func formatCounts(counts map[string]int64) string {
	var parts []string
	seen := map[string]bool{}
	for _, code := range latchkey.VerifyCodes {
		if n := counts[string(code)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", code, n))
		}
		seen[string(code)] = true
	}
	for code, n := range counts {
		if !seen[code] && n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", code, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// newKeysDevicesCmd is `keys devices`: list a key's devices, or remove
// some.
func newKeysDevicesCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var remove []string
	cmd := keyCmd(f, "devices ID", "List the device ids seen verifying a key, or --remove some", func(cmd *cobra.Command, c *client.Client, id int64) error {
		for _, d := range remove {
			if err := c.DeleteDevice(cmd.Context(), id, d); err != nil {
				return err
			}
			if f.output == "table" {
				fmt.Fprintf(stdout, "removed device %s of key %d\n", d, id)
			}
		}
		if len(remove) > 0 {
			return nil
		}
		devices, err := c.ListDevices(cmd.Context(), id)
		if err != nil {
			return err
		}
		p := client.Page[*latchkey.Device]{Data: devices}
		ids := make([]string, len(p.Data))
		rows := make([][]string, len(p.Data))
		for i, d := range p.Data {
			ids[i] = d.DeviceID
			rows[i] = []string{d.DeviceID, timeOr(&d.CreatedAt, "-")}
		}
		return f.emit(stdout, p, ids, func(w io.Writer) { printTable(w, []string{"DEVICE", "FIRST SEEN"}, rows) })
	})
	cmd.Flags().StringSliceVar(&remove, "remove", nil, "device id to remove (repeatable)")
	return cmd
}

// newKeysVerifyCmd is `keys verify`: it exits 1 for a key that is not
// valid, so scripts can test with it.
func newKeysVerifyCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var vreq latchkey.VerifyRequest
	var cost int64
	cmd := &cobra.Command{
		Use:   "verify SECRET",
		Short: "Verify a key as an API server would; exit 1 when it is not valid",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			vreq.Key = args[0]
			if cmd.Flags().Changed("cost") {
				vreq.Cost = &cost
			}
			res, err := c.Verify(cmd.Context(), &vreq)
			if err != nil {
				return err
			}
			var ids []string
			if res.KeyID != 0 {
				ids = []string{itoa(res.KeyID)}
			}
			if err := f.emit(stdout, res, ids, func(w io.Writer) {
				if res.KeyID != 0 {
					fmt.Fprintf(w, "%s (valid=%v, key %d)\n", res.Code, res.Valid, res.KeyID)
				} else {
					fmt.Fprintf(w, "%s (valid=%v)\n", res.Code, res.Valid)
				}
			}); err != nil {
				return err
			}
			if !res.Valid {
				return fmt.Errorf("key is not valid: %s", res.Code)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&vreq.Permissions, "permission", nil, "permission the key must hold (repeatable)")
	cmd.Flags().StringVar(&vreq.DeviceID, "device", "", "device id")
	cmd.Flags().Int64Var(&cost, "cost", 1, "credits to spend (0: only look)")
	_ = cmd.RegisterFlagCompletionFunc("permission", completePermissions(f))
	return cmd
}

// parseExpiry reads an RFC 3339 time or a duration from now.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, usageErrorf("--expires: %q is neither an RFC 3339 time nor a positive duration", s)
	}
	return time.Now().UTC().Add(d).Truncate(time.Second), nil
}

// parseWhen reads an RFC 3339 time or a duration ago; "" is the zero
// time (the server's default).
func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, usageErrorf("--%s: %q is neither an RFC 3339 time nor a duration ago like 24h", flag, s)
	}
	return time.Now().UTC().Add(-d).Truncate(time.Second), nil
}

// completionTimeout bounds the server calls of a shell completion.
const completionTimeout = 3 * time.Second

// completeKeyIDs completes a key id argument from the server's keys,
// each with its name and status as the description.
func completeKeyIDs(f *apiFlags) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
		defer cancel()
		p, err := c.ListKeys(ctx, client.ListOptions{Limit: 1000})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, k := range p.Data {
			if id := itoa(k.ID); strings.HasPrefix(id, toComplete) {
				out = append(out, fmt.Sprintf("%s\t%s (%s)", id, k.Name, k.Status))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
