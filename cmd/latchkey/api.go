package main

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// defaultServer is the address the API commands call when no flag,
// variable or profile names another.
const defaultServer = "http://127.0.0.1:8080"

// outputs are the values of --output.
var outputs = []string{"table", "json", "id"}

// apiFlags are the flags of the commands that talk to a server. Each
// setting comes from its flag, else its LATCHKEY_* variable, else the
// profile, else the default.
type apiFlags struct {
	server, rootKey, adminSecret, account, output, profile string
	getenv                                                 func(string) string
	cmd                                                    *cobra.Command
}

// bind registers the flags on a noun's command as persistent flags, so
// every subcommand has them.
func (f *apiFlags) bind(cmd *cobra.Command, getenv func(string) string) {
	f.getenv, f.cmd = getenv, cmd
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "server address (default: $LATCHKEY_SERVER, the profile's, or "+defaultServer+")")
	// Secrets are read from the environment or the profile when the flag
	// is empty, never shown as a flag default (which --help would print).
	pf.StringVar(&f.rootKey, "root-key", "", "root key to authenticate with (default: $LATCHKEY_ROOT_KEY or the profile's)")
	pf.StringVar(&f.adminSecret, "admin-secret", "", "operator secret, instead of a root key (default: $LATCHKEY_ADMIN_SECRET or the profile's)")
	pf.StringVar(&f.account, "account", "", "account id or name, for the operator (default: $LATCHKEY_ACCOUNT or the profile's)")
	pf.StringVar(&f.profile, "profile", "", "profile saved by latchkey login (default: $LATCHKEY_PROFILE or \"default\")")
	pf.StringVarP(&f.output, "output", "o", "table", "table, json, or id (ids only, one per line)")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedValues(outputs...))
	_ = cmd.RegisterFlagCompletionFunc("profile", completeProfiles)
}

// resolve fills the settings a flag left empty from the environment, then
// from the profile. A credential comes whole from one place: a root key
// from the environment is not paired with an admin secret from a profile.
func (f *apiFlags) resolve() error {
	if !slices.Contains(outputs, f.output) {
		return usageErrorf("--output: must be table, json or id, got %q", f.output)
	}
	env := func(name string, dst *string) {
		if *dst == "" {
			*dst = f.getenv(name)
		}
	}
	env("LATCHKEY_SERVER", &f.server)
	env("LATCHKEY_ACCOUNT", &f.account)
	env("LATCHKEY_PROFILE", &f.profile)
	if f.rootKey == "" && f.adminSecret == "" {
		f.rootKey, f.adminSecret = f.getenv("LATCHKEY_ROOT_KEY"), f.getenv("LATCHKEY_ADMIN_SECRET")
	}
	// The profile file is read only when it is named or needed.
	if f.profile != "" || f.server == "" || (f.rootKey == "" && f.adminSecret == "") {
		name := f.profile
		if name == "" {
			name = defaultProfile
		}
		p, err := loadProfile(name, f.profile != "")
		if err != nil {
			return err
		}
		if f.server == "" {
			f.server = p.Server
		}
		if f.rootKey == "" && f.adminSecret == "" && (p.RootKey != "" || p.AdminSecret != "") {
			// A profile's credential goes only to the server it was saved
			// for: a typo in --server or a stale LATCHKEY_SERVER must not
			// hand another host the key.
			if !sameServer(f.server, p.Server) {
				return usageErrorf("profile %q holds a credential for %s, not for %s: give --root-key or --admin-secret for that server, or log in to it", name, p.Server, f.server)
			}
			f.rootKey, f.adminSecret = p.RootKey, p.AdminSecret
		}
		if f.account == "" {
			f.account = p.Account
		}
	}
	if f.server == "" {
		f.server = defaultServer
	}
	return checkServer(f.server)
}

// sameServer reports whether two server addresses name the same server:
// scheme and host compared without case, paths without a trailing slash.
func sameServer(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/")
}

// checkServer refuses a server address that is not an http(s) URL.
func checkServer(s string) error {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("--server / LATCHKEY_SERVER: want a URL like http://127.0.0.1:8080, got %q", s)
	}
	return nil
}

// client returns a client for the resolved server and credential.
func (f *apiFlags) client() (*client.Client, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	if f.rootKey == "" && f.adminSecret == "" {
		return nil, usageErrorf("no credential: run latchkey login, or set LATCHKEY_ROOT_KEY (or --root-key) to the root key printed at first start")
	}
	c := client.New(f.server, f.rootKey)
	if f.rootKey == "" {
		c.AdminSecret, c.AccountID = f.adminSecret, f.account
	}
	return c, nil
}

// refusal returns the code, message and per-field errors of an API
// refusal, which the client package returns as a *latchkey.Error.
func refusal(err error) (code, msg string, fields map[string]string, ok bool) {
	var le *latchkey.Error
	if errors.As(err, &le) {
		return le.Code, le.Message, le.Fields, true
	}
	return "", "", nil, false
}
