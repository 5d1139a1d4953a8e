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
	return fromServer(f, func(ctx context.Context, c *client.Client, args []string, toComplete string) ([]string, error) {
		if len(args) > 0 {
			return nil, nil // one key id at most
		}
		p, err := c.ListKeys(ctx, client.ListOptions{Limit: 1000})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, k := range p.Data {
			if id := itoa(k.ID); strings.HasPrefix(id, toComplete) {
				out = append(out, fmt.Sprintf("%s\t%s (%s)", id, k.Name, k.Status))
			}
		}
		return out, nil
	})
}
