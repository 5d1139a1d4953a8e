package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// apiFlags are the flags of the commands that talk to a server.
type apiFlags struct {
	server, rootKey, adminSecret, account, output string
	getenv                                        func(string) string
}

func (f *apiFlags) bind(cmd *cobra.Command, getenv func(string) string) {
	def := func(env, d string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return d
	}
	f.getenv = getenv
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", def("LATCHKEY_SERVER", "http://127.0.0.1:8080"), "server address [LATCHKEY_SERVER]")
	// Secrets are read from the environment when the flag is empty, never
	// shown as a flag default (which --help would print).
	pf.StringVar(&f.rootKey, "root-key", "", "root key to authenticate with (default: $LATCHKEY_ROOT_KEY)")
	pf.StringVar(&f.adminSecret, "admin-secret", "", "operator secret, instead of a root key (default: $LATCHKEY_ADMIN_SECRET)")
	pf.StringVar(&f.account, "account", "", "account id or name (operator only)")
	pf.StringVarP(&f.output, "output", "o", "table", "table or json")
}

func (f *apiFlags) client() (*client.Client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("--output: must be table or json")
	}
	if f.rootKey == "" {
		f.rootKey = f.getenv("LATCHKEY_ROOT_KEY")
	}
	if f.adminSecret == "" {
		f.adminSecret = f.getenv("LATCHKEY_ADMIN_SECRET")
	}
	if f.rootKey == "" && f.adminSecret == "" {
		return nil, fmt.Errorf("no credential: set LATCHKEY_ROOT_KEY (or --root-key) to the root key printed at first start")
	}
	if u, err := url.Parse(f.server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server / LATCHKEY_SERVER: want a URL like http://127.0.0.1:8080, got %q", f.server)
	}
	c := client.New(f.server, f.rootKey)
	if f.rootKey == "" {
		c.AdminSecret, c.AccountID = f.adminSecret, f.account
	}
	return c, nil
}

// newKeysCmd is `latchkey keys`: its subcommands talk to a running server
// through the client package, with the server and credential flags of
// apiFlags.
func newKeysCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	cmd := &cobra.Command{Use: "keys", Short: "Manage and verify keys on a running server"}
	f.bind(cmd, getenv)
	cmd.AddCommand(newKeysCreateCmd(f, stdout), newKeysListCmd(f, stdout))
	cmd.AddCommand(newKeysByIDCmds(f, stdout)...)
	cmd.AddCommand(newKeysVerifyCmd(f, stdout))
	return cmd
}

// newKeysCreateCmd is `keys create`: every field it offers as a flag, and
// the secret printed once.
func newKeysCreateCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var create latchkey.KeyCreate
	var owner, expires string
	var rateLimit int64
	var rateWindow time.Duration
	var credits int64
	createCmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print its secret (shown this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if owner != "" {
				create.OwnerEmail = &owner
			}
			if expires != "" {
				t, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				create.ExpiresAt = &t
			}
			switch {
			case rateLimit < 0:
				return fmt.Errorf("--rate-limit must not be negative (0: unlimited), got %d", rateLimit)
			case rateWindow < time.Second || rateWindow%time.Second != 0:
				return fmt.Errorf("--rate-window must be a whole number of seconds, at least 1s, got %s", rateWindow)
			case rateLimit > 0:
				create.RateLimit = &latchkey.RateLimit{Limit: rateLimit, WindowSeconds: int64(rateWindow / time.Second)}
			}
			if cmd.Flags().Changed("credits") {
				create.Credits = &latchkey.Credits{Remaining: credits}
			}
			k, err := c.CreateKey(cmd.Context(), &create)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(stdout, k)
			}
			printKeys(stdout, []*latchkey.Key{&k.Key})
			fmt.Fprintf(stdout, "\nsecret (shown once): %s\n", k.Secret)
			return nil
		},
	}
	createCmd.Flags().StringVar((*string)(&create.Kind), "kind", "api", "api or root")
	createCmd.Flags().StringVar(&create.Name, "name", "", "name")
	createCmd.Flags().StringVar(&owner, "owner-email", "", "owner's email")
	createCmd.Flags().StringVar(&expires, "expires", "", "expiry: RFC 3339 time or a duration like 720h")
	createCmd.Flags().StringSliceVar(&create.Permissions, "permission", nil, "permission name (repeatable)")
	createCmd.Flags().Int64Var(&rateLimit, "rate-limit", 0, "verifications allowed per --rate-window (0: unlimited)")
	createCmd.Flags().DurationVar(&rateWindow, "rate-window", time.Hour, "rate-limit window")
	createCmd.Flags().Int64Var(&create.MaxDevices, "max-devices", 0, "distinct device ids allowed (0: unlimited)")
	createCmd.Flags().Int64Var(&credits, "credits", 0, "remaining uses (unset: unlimited)")

	return createCmd
}

// newKeysListCmd is `keys list`, with the list filters as flags.
func newKeysListCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var lo client.ListOptions
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List keys, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			p, err := c.ListKeys(cmd.Context(), lo)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(stdout, p)
			}
			printKeys(stdout, p.Data)
			if p.NextCursor != nil {
				fmt.Fprintf(stdout, "\nmore: --cursor %s\n", *p.NextCursor)
			}
			return nil
		},
	}
	listCmd.Flags().StringVar(&lo.Status, "status", "", "active, disabled, expired or revoked")
	listCmd.Flags().StringVar(&lo.OwnerEmail, "owner-email", "", "owner's email")
	listCmd.Flags().StringVar(&lo.Kind, "kind", "", "api or root")
	listCmd.Flags().StringVarP(&lo.Query, "query", "q", "", "text in name, description or owner")
	listCmd.Flags().IntVar(&lo.Limit, "limit", 50, "keys per page (1-1000)")
	listCmd.Flags().StringVar(&lo.Cursor, "cursor", "", "next page cursor")

	return listCmd
}

// newKeysByIDCmds are the subcommands that act on one key by its id: get,
// revoke, rotate and delete.
func newKeysByIDCmds(f *apiFlags, stdout io.Writer) []*cobra.Command {
	byID := func(use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) (any, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("ID: %q is not a key id", args[0])
				}
				c, err := f.client()
				if err != nil {
					return err
				}
				out, err := run(cmd, c, id)
				if err != nil || out == nil {
					return err
				}
				if f.output == "json" {
					return printJSON(stdout, out)
				}
				switch v := out.(type) {
				case *latchkey.Key:
					printKeys(stdout, []*latchkey.Key{v})
				case *client.KeyWithSecret:
					printKeys(stdout, []*latchkey.Key{&v.Key})
					fmt.Fprintf(stdout, "\nnew secret (shown once): %s\n", v.Secret)
				}
				return nil
			},
		}
	}
	getCmd := byID("get", "Show a key", func(cmd *cobra.Command, c *client.Client, id int64) (any, error) {
		return c.GetKey(cmd.Context(), id)
	})
	var reason string
	revokeCmd := byID("revoke", "Revoke a key", func(cmd *cobra.Command, c *client.Client, id int64) (any, error) {
		return c.RevokeKey(cmd.Context(), id, reason)
	})
	revokeCmd.Flags().StringVar(&reason, "reason", "", "why")
	var grace time.Duration
	rotateCmd := byID("rotate", "Issue a new secret; the old one lives out --grace", func(cmd *cobra.Command, c *client.Client, id int64) (any, error) {
		return c.RotateKey(cmd.Context(), id, grace)
	})
	rotateCmd.Flags().DurationVar(&grace, "grace", 0, "how long the old secret keeps working")
	deleteCmd := byID("delete", "Delete a key", func(cmd *cobra.Command, c *client.Client, id int64) (any, error) {
		if err := c.DeleteKey(cmd.Context(), id); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "deleted key %d\n", id)
		return nil, nil
	})

	return []*cobra.Command{getCmd, revokeCmd, rotateCmd, deleteCmd}
}

// newKeysVerifyCmd is `keys verify`: it exits non-zero for a key that is
// not valid, so scripts can test with it.
func newKeysVerifyCmd(f *apiFlags, stdout io.Writer) *cobra.Command {
	var vreq latchkey.VerifyRequest
	verifyCmd := &cobra.Command{
		Use:   "verify SECRET",
		Short: "Verify a key as an API server would",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			vreq.Key = args[0]
			res, err := c.Verify(cmd.Context(), &vreq)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if err := printJSON(stdout, res); err != nil {
					return err
				}
			} else {
				if res.KeyID != 0 {
					fmt.Fprintf(stdout, "%s (valid=%v, key %d)\n", res.Code, res.Valid, res.KeyID)
				} else {
					fmt.Fprintf(stdout, "%s (valid=%v)\n", res.Code, res.Valid)
				}
			}
			if !res.Valid {
				return fmt.Errorf("key is not valid: %s", res.Code)
			}
			return nil
		},
	}
	verifyCmd.Flags().StringSliceVar(&vreq.Permissions, "permission", nil, "permission the key must hold (repeatable)")
	verifyCmd.Flags().StringVar(&vreq.DeviceID, "device", "", "device id")

	return verifyCmd
}

// parseExpiry reads an RFC 3339 time or a duration from now.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--expires: %q is neither an RFC 3339 time nor a positive duration", s)
	}
	return time.Now().UTC().Add(d).Truncate(time.Second), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printKeys(w io.Writer, keys []*latchkey.Key) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tSTART\tSTATUS\tOWNER\tEXPIRES\tPERMISSIONS")
	for _, k := range keys {
		owner, expires := "-", "never"
		if k.OwnerEmail != nil {
			owner = *k.OwnerEmail
		}
		if k.ExpiresAt != nil {
			expires = k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Name, k.Start, k.Status, owner, expires, strings.Join(k.Permissions, ","))
	}
	tw.Flush()
}
