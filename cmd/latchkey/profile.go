package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/spf13/cobra"
)

// defaultProfile is the profile used when none is named.
const defaultProfile = "default"

// profile is a saved server and credential, one of the entries of
// profiles.json.
type profile struct {
	Server      string `json:"server"`
	RootKey     string `json:"root_key,omitempty"`
	AdminSecret string `json:"admin_secret,omitempty"`
	Account     string `json:"account,omitempty"`
}

// profileFile is the layout of profiles.json.
type profileFile struct {
	Profiles map[string]profile `json:"profiles"`
}

// profilesPath is os.UserConfigDir()/latchkey/profiles.json.
func profilesPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	return filepath.Join(dir, "latchkey", "profiles.json"), nil
}

// readProfiles reads the profile file; a missing one is empty. A file
// others may read is refused, as ssh refuses a private key: it holds
// credentials.
func readProfiles() (*profileFile, string, error) {
	path, err := profilesPath()
	if err != nil {
		return nil, "", err
	}
	pf := &profileFile{Profiles: map[string]profile{}}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pf, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("profiles: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, path, fmt.Errorf("profiles: %w", err)
	}
	// Windows has no such mode bits: its ACLs keep a user's config private.
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, path, usageErrorf("profiles: %s holds credentials but others may read it (mode %04o); run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	if err := json.NewDecoder(fh).Decode(pf); err != nil {
		return nil, path, fmt.Errorf("profiles: %s: %w", path, err)
	}
	if pf.Profiles == nil {
		pf.Profiles = map[string]profile{}
	}
	return pf, path, nil
}

// loadProfile returns the named profile. A profile that does not exist is
// empty unless it was asked for by name (must).
func loadProfile(name string, must bool) (profile, error) {
	pf, path, err := readProfiles()
	if err != nil {
		return profile{}, err
	}
	p, ok := pf.Profiles[name]
	if !ok && must {
		return profile{}, usageErrorf("--profile / LATCHKEY_PROFILE: no profile %q in %s; run latchkey login --profile %s", name, path, name)
	}
	return p, nil
}

// saveProfile writes the profile under name, readable by its owner only:
// the directory 0700, the file 0600, replaced atomically.
func saveProfile(name string, p profile) (string, error) {
	pf, path, err := readProfiles()
	if err != nil {
		return path, err
	}
	pf.Profiles[name] = p
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return path, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return path, fmt.Errorf("profiles: %w", err)
	}
	// MkdirAll leaves a directory that already existed as it was.
	if err := os.Chmod(dir, 0o700); err != nil {
		return path, fmt.Errorf("profiles: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".profiles-*.json")
	if err != nil {
		return path, fmt.Errorf("profiles: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return path, fmt.Errorf("profiles: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return path, fmt.Errorf("profiles: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return path, fmt.Errorf("profiles: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return path, fmt.Errorf("profiles: %w", err)
	}
	return path, nil
}

// completeProfiles completes --profile from the profile file.
func completeProfiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	pf, _, err := readProfiles()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(pf.Profiles))
	for name, p := range pf.Profiles {
		names = append(names, name+"\t"+p.Server)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// newLoginCmd is `latchkey login`: it checks a server and credential and
// saves them as a profile, which the other commands use when no flag or
// LATCHKEY_* variable says otherwise.
func newLoginCmd(stdout io.Writer, getenv func(string) string) *cobra.Command {
	f := &apiFlags{}
	var fromStdin, operator bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save a server and credential as a profile (readable only by you)",
		Long: `login checks a server and credential (a root key, or with --admin-secret the
operator's secret) and saves them in os.UserConfigDir()/latchkey/profiles.json,
mode 0600, under --profile (default "default"). The other commands use the
profile for any setting no flag or LATCHKEY_* variable gives.

The credential comes from --root-key or --admin-secret, else LATCHKEY_ROOT_KEY
or LATCHKEY_ADMIN_SECRET, else the first line of stdin (--credential-stdin, or
a prompt): a root key, or with --operator the admin secret. Prefer stdin or
the variables: flags show in ps. A prompt on a terminal does not echo what
is typed.`,
		Example: `  latchkey login --server https://keys.example.com      # asks for the root key
  echo "$ROOT_KEY" | latchkey login --profile prod --server https://keys.example.com --credential-stdin`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := f.profile
			if name == "" {
				name = getenv("LATCHKEY_PROFILE")
			}
			if name == "" {
				name = defaultProfile
			}
			if f.output != "table" && f.output != "json" && f.output != "id" {
				return usageErrorf("--output: must be table, json or id, got %q", f.output)
			}
			if f.server == "" {
				f.server = getenv("LATCHKEY_SERVER")
			}
			if f.account == "" {
				f.account = getenv("LATCHKEY_ACCOUNT")
			}
			if f.rootKey == "" && f.adminSecret == "" && !fromStdin {
				f.rootKey, f.adminSecret = getenv("LATCHKEY_ROOT_KEY"), getenv("LATCHKEY_ADMIN_SECRET")
			}
			if f.rootKey == "" && f.adminSecret == "" {
				prompt := "root key: "
				if operator {
					prompt = "admin secret: "
				}
				lines, err := readSecrets(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr(), fromStdin, prompt)
				line := strings.TrimSpace(lines[0])
				if line == "" {
					if err == nil {
						err = errors.New("empty line")
					}
					return usageErrorf("no credential on stdin: %v", err)
				}
				if operator {
					f.adminSecret = line
				} else {
					f.rootKey = line
				}
			}
			if f.server == "" {
				f.server = defaultServer
			}
			if err := checkServer(f.server); err != nil {
				return err
			}
			c := client.New(f.server, f.rootKey)
			if f.rootKey == "" {
				c.AdminSecret, c.AccountID = f.adminSecret, f.account
			}
			// The credential must work before it is saved.
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			accounts, err := c.ListAccounts(ctx)
			if err != nil {
				return err
			}
			p := profile{Server: f.server, Account: f.account}
			if f.rootKey != "" {
				p.RootKey = f.rootKey
			} else {
				p.AdminSecret = f.adminSecret
			}
			path, err := saveProfile(name, p)
			if err != nil {
				return err
			}
			names := make([]string, len(accounts))
			for i, a := range accounts {
				names[i] = a.Name
			}
			result := map[string]any{"profile": name, "path": path, "server": f.server, "accounts": names}
			return f.emit(stdout, result, []string{name}, func(w io.Writer) {
				fmt.Fprintf(w, "saved profile %q (%s, accounts: %s) in %s\n", name, f.server, strings.Join(names, ", "), path)
			})
		},
	}
	f.bind(cmd, getenv)
	cmd.Flags().BoolVar(&fromStdin, "credential-stdin", false, "read the credential from the first line of stdin")
	cmd.Flags().BoolVar(&operator, "operator", false, "the credential read from stdin is the operator's admin secret, not a root key")
	return cmd
}
