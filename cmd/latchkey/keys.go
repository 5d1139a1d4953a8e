package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// keysCmds are `latchkey keys`: they talk to a running server through the
// client package, with the server and credential flags of apiFlags.
func keysCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	return []*cobra.Command{newKeysCreateCmd(f, stdout), newKeysListCmd(f, stdout), newKeysGetCmd(f, stdout),
		newKeysUpdateCmd(f, stdout), newKeysEnableCmd(f, stdout, true), newKeysEnableCmd(f, stdout, false),
		newKeysRevokeCmd(f, stdout), newKeysRotateCmd(f, stdout), newKeysDeleteCmd(f, stdout),
		newKeysVerifyCmd(f, stdout), newKeysUsageCmd(f, stdout), newKeysDevicesCmd(f, stdout)}
}

// newKeysCreateCmd is `keys create`: every writable field as a flag, and
// the secret printed once.
func newKeysCreateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var k keyFields
	var kind string
	cmd := apiCmd(f, &cobra.Command{Use: "create", Short: "Create a key and print its secret (shown this once)"},
		func(cmd *cobra.Command, c *client.Client, _ []string) error {
			in, err := k.create()
			if err != nil {
				return err
			}
			in.Kind = latchkey.KeyKind(kind)
			key, err := c.CreateKey(cmd.Context(), in)
			if err != nil {
				return err
			}
			return f.emitSecret(stdout, key, "secret (shown once)")
		})
	cmd.Flags().StringVar(&kind, "kind", "api", "api or root")
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedValues("api", "root"))
	k.bind(cmd, f, false)
	return cmd
}

// newKeysListCmd is `keys list`, with the list filters as flags.
func newKeysListCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var lo client.ListOptions
	var all bool
	cmd := apiCmd(f, &cobra.Command{Use: "list", Short: "List keys, newest first"},
		func(cmd *cobra.Command, c *client.Client, _ []string) error {
			p, err := listPages(all, lo.Cursor, func(cursor string) (*client.KeyPage, error) {
				lo.Cursor = cursor
				return c.ListKeys(cmd.Context(), lo)
			})
			if err != nil {
				return err
			}
			return keyColumns.emitPage(f, stdout, p)
		})
	cmd.Flags().StringVar(&lo.Status, "status", "", "active, disabled, expired or revoked")
	cmd.Flags().StringVar(&lo.OwnerEmail, "owner-email", "", "owner's email")
	cmd.Flags().StringVar(&lo.Kind, "kind", "", "api or root")
	cmd.Flags().StringVarP(&lo.Query, "query", "q", "", "text in name, description or owner")
	pageFlags(cmd, &lo.Limit, &lo.Cursor, &all, "keys")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedValues("active", "disabled", "expired", "revoked"))
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedValues("api", "root"))
	return cmd
}

// keyCmd is a subcommand acting on one key, named by the ID argument,
// whose ids complete from the server.
func keyCmd(f *apiFlags, use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) error) *cobra.Command {
	var id int64
	return apiCmd(f, &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeKeyIDs(f),
		PreRunE:           func(_ *cobra.Command, args []string) (err error) { id, err = parseKeyID(args[0]); return err },
	}, func(cmd *cobra.Command, c *client.Client, _ []string) error { return run(cmd, c, id) })
}

// keyChangeCmd is a subcommand that reads or changes one key and shows it
// in full as it now is; change may be a method expression like
// (*client.Client).GetKey.
func keyChangeCmd(f *apiFlags, stdout io.Writer, use, short string, change func(c *client.Client, ctx context.Context, id int64) (*latchkey.Key, error)) *cobra.Command {
	return keyCmd(f, use, short, func(cmd *cobra.Command, c *client.Client, id int64) error {
		k, err := change(c, cmd.Context(), id)
		if err != nil {
			return err
		}
		return f.emit(stdout, k, []string{itoa(k.ID)}, func(w io.Writer) { printKey(w, k) })
	})
}

// parseKeyID reads a positive id argument.
func parseKeyID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("ID: %q is not a key id", s)
	}
	return id, nil
}

// emitSecret prints a key with its new secret, shown this once.
func (f *apiFlags) emitSecret(w io.Writer, k *client.KeyWithSecret, label string) error {
	return f.emit(w, k, []string{itoa(k.ID)}, func(w io.Writer) {
		printKey(w, &k.Key)
		fmt.Fprintf(w, "\n%s: %s\n", label, k.Secret)
	})
}

// newKeysGetCmd is `keys get`: every field of one key.
func newKeysGetCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	return keyChangeCmd(f, stdout, "get ID", "Show every field of a key", (*client.Client).GetKey)
}

// newKeysUpdateCmd is `keys update`: a JSON merge patch of the flags set.
func newKeysUpdateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var k keyFields
	cmd := keyChangeCmd(f, stdout, "update ID", "Change a key's fields; only the flags given are sent", func(c *client.Client, ctx context.Context, id int64) (*latchkey.Key, error) {
		p, err := k.patch(func() (*latchkey.Key, error) { return c.GetKey(ctx, id) })
		if err != nil {
			return nil, err
		}
		return c.UpdateKey(ctx, id, p)
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
	return keyChangeCmd(f, stdout, use, short, func(c *client.Client, ctx context.Context, id int64) (*latchkey.Key, error) {
		return c.UpdateKey(ctx, id, map[string]any{"enabled": on})
	})
}

// newKeysRevokeCmd is `keys revoke`, with the reason as a flag.
func newKeysRevokeCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var reason string
	cmd := keyChangeCmd(f, stdout, "revoke ID", "Revoke a key: it never verifies again", func(c *client.Client, ctx context.Context, id int64) (*latchkey.Key, error) {
		return c.RevokeKey(ctx, id, reason)
	})
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

// newKeysRotateCmd is `keys rotate`: a new secret, printed once, while the
// old one lives out --grace.
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
		return f.emitSecret(stdout, k, "new secret (shown once)")
	})
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old secret keeps working")
	return cmd
}

// newKeysDeleteCmd is `keys delete`.
func newKeysDeleteCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	return keyCmd(f, "delete ID", "Delete a key", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if err := c.DeleteKey(cmd.Context(), id); err != nil {
			return err
		}
		return f.emitDone(stdout, map[string]any{"id": id, "deleted": true}, itoa(id), fmt.Sprintf("deleted key %d", id))
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
		return usageColumns.emitList(f, stdout, buckets)
	})
	cmd.Flags().StringVar(&bucket, "bucket", "", "minute, hour or day (default hour)")
	cmd.Flags().StringVar(&since, "since", "", "from: RFC 3339 time or a duration ago like 24h (default 24h)")
	cmd.Flags().StringVar(&until, "until", "", "to: RFC 3339 time or a duration ago (default now)")
	_ = cmd.RegisterFlagCompletionFunc("bucket", fixedValues("minute", "hour", "day"))
	return cmd
}

// usageColumns is the table of a key's usage, a time bucket per row.
var usageColumns = columns[*latchkey.UsageBucket]{
	header: []string{"START", "TOTAL", "BY CODE"},
	row: func(b *latchkey.UsageBucket) []string {
		return []string{b.Start.UTC().Format(time.RFC3339), itoa(b.Total), formatCounts(b.Counts)}
	},
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
		return deviceColumns.emitList(f, stdout, devices)
	})
	cmd.Flags().StringSliceVar(&remove, "remove", nil, "device id to remove (repeatable)")
	return cmd
}

// deviceColumns is the table of a key's devices.
var deviceColumns = columns[*latchkey.Device]{
	header: []string{"DEVICE", "FIRST SEEN"},
	row:    func(d *latchkey.Device) []string { return []string{d.DeviceID, timeOr(&d.CreatedAt, "-")} },
}

// newKeysVerifyCmd is `keys verify`: it exits 1 for a key that is not
// valid, so scripts can test with it.
func newKeysVerifyCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var vreq latchkey.VerifyRequest
	var cost int64
	cmd := apiCmd(f, &cobra.Command{Use: "verify SECRET", Short: "Verify a key as an API server would; exit 1 when it is not valid", Args: cobra.ExactArgs(1)},
		func(cmd *cobra.Command, c *client.Client, args []string) error {
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
		})
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
	list := func(c *client.Client, ctx context.Context) ([]*latchkey.Key, error) {
		p, err := c.ListKeys(ctx, client.ListOptions{Limit: 1000})
		if err != nil {
			return nil, err
		}
		return p.Data, nil
	}
	return firstArgOnly(completeFrom(f, list, func(k *latchkey.Key) (string, string) {
		return itoa(k.ID), fmt.Sprintf("%s (%s)", k.Name, k.Status)
	}))
}

// keyColumns is the table of keys, one per row.
var keyColumns = columns[*latchkey.Key]{
	header: []string{"ID", "KIND", "NAME", "START", "STATUS", "OWNER", "EXPIRES", "PERMISSIONS"},
	row: func(k *latchkey.Key) []string {
		return []string{itoa(k.ID), string(k.Kind), k.Name, k.Start + "…", string(k.Status),
			orDash(k.OwnerEmail), timeOr(k.ExpiresAt, "never"), strings.Join(k.Permissions, ",")}
	},
}
