package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
)

const cliAdminSecret = "cli-operator-secret-0123456789"

// cliResult is what one run of the binary left: its output and exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command line as main does, exit code included, with env
// as the environment.
func runCLI(tb testing.TB, env map[string]string, args ...string) cliResult {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return cliResult{stdout.String(), stderr.String(), code}
}

// mustCLI runs the command line and fails the test unless it exits 0.
func mustCLI(tb testing.TB, env map[string]string, args ...string) string {
	tb.Helper()
	r := runCLI(tb, env, args...)
	if r.code != 0 {
		tb.Fatalf("latchkey %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// mustCLIJSON runs the command line with -o json and decodes its answer.
func mustCLIJSON[T any](tb testing.TB, env map[string]string, args ...string) T {
	tb.Helper()
	var v T
	out := mustCLI(tb, env, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		tb.Fatalf("latchkey %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

func rootEnv(ts *testServer) map[string]string {
	return map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ROOT_KEY": ts.RootKey}
}

// isolateConfig points os.UserConfigDir at a fresh directory, so no test
// reads or writes the profiles of whoever runs it.
func isolateConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, ".config"))
	cfg, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCLIKeys drives every keys subcommand against a real server.
func TestCLIKeys(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{})
	env := rootEnv(ts)
	mustCLI(t, env, "permissions", "create", "readApplications", "--description", "read apps")
	mustCLI(t, env, "permissions", "create", "writeApplications")

	created := mustCLIJSON[struct {
		latchkey.Key
		Secret string `json:"secret"`
	}](t, env, "keys", "create", "--name", "acme prod", "--description", "prod key",
		"--owner-email", "ops@acme.test", "--owner-name", "Acme", "--owner-phone", "+1 555 0100",
		"--expires", "2030-01-01T00:00:00Z", "--permission", "readApplications",
		"--rate-limit", "100", "--rate-window", "1m", "--max-devices", "2",
		"--credits", "50", "--refill-amount", "50", "--refill-interval", "day", "--meta", `{"plan":"pro"}`)
	k := created.Key
	if created.Secret == "" || k.Name != "acme prod" || k.Description != "prod key" || *k.OwnerEmail != "ops@acme.test" ||
		*k.OwnerName != "Acme" || *k.OwnerPhone != "+1 555 0100" || k.ExpiresAt == nil || k.ExpiresAt.Year() != 2030 ||
		!equalStrings(k.Permissions, "readApplications") || k.RateLimit == nil || *k.RateLimit != (latchkey.RateLimit{Limit: 100, WindowSeconds: 60}) ||
		k.MaxDevices != 2 || k.Credits == nil || k.Credits.Remaining != 50 || k.Credits.RefillInterval != "day" || compactJSON(k.Meta) != `{"plan":"pro"}` {
		t.Fatalf("create: got %+v", k)
	}
	id := strconv.FormatInt(k.ID, 10)

	// The table of keys get shows every field.
	out := mustCLI(t, env, "keys", "get", id)
	for _, want := range []string{"acme prod", "prod key", "ops@acme.test", "Acme", "+1 555 0100", "2030-01-01T00:00:00Z",
		"readApplications", "100 per 1m", "max devices:  2", "50 (refill to 50 each day)", `{"plan":"pro"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("keys get: no %q in\n%s", want, out)
		}
	}

	// Only the flags given are sent; the rest is kept.
	u := mustCLIJSON[latchkey.Key](t, env, "keys", "update", id, "--name", "acme staging", "--owner-phone", "", "--rate-limit", "7")
	if u.Name != "acme staging" || u.OwnerPhone != nil || *u.RateLimit != (latchkey.RateLimit{Limit: 7, WindowSeconds: 60}) ||
		u.Description != "prod key" || *u.OwnerEmail != "ops@acme.test" || u.MaxDevices != 2 || compactJSON(u.Meta) != `{"plan":"pro"}` {
		t.Fatalf("update name, phone, rate limit: got %+v", u)
	}
	u = mustCLIJSON[latchkey.Key](t, env, "keys", "update", id, "--rate-window", "2h", "--credits", "9",
		"--permissions", "readApplications,writeApplications", "--max-devices", "0", "--meta", `{"plan":"team"}`,
		"--description", "", "--owner-name", "Acme Inc", "--owner-email", "billing@acme.test", "--enabled=false")
	if *u.RateLimit != (latchkey.RateLimit{Limit: 7, WindowSeconds: 7200}) || u.Credits.Remaining != 9 || *u.Credits.RefillAmount != 50 ||
		u.Credits.RefillInterval != "day" || !equalStrings(u.Permissions, "readApplications", "writeApplications") || u.MaxDevices != 0 ||
		compactJSON(u.Meta) != `{"plan":"team"}` || u.Description != "" || *u.OwnerName != "Acme Inc" || *u.OwnerEmail != "billing@acme.test" ||
		u.Enabled || u.Status != latchkey.StatusDisabled {
		t.Fatalf("update the rest: got %+v", u)
	}
	u = mustCLIJSON[latchkey.Key](t, env, "keys", "update", id, "--no-refill", "--expires", "720h")
	if u.Credits == nil || u.Credits.Remaining != 9 || u.Credits.RefillAmount != nil || u.ExpiresAt == nil || u.ExpiresAt.Year() == 2030 {
		t.Fatalf("update --no-refill --expires 720h: got %+v", u)
	}
	u = mustCLIJSON[latchkey.Key](t, env, "keys", "update", id, "--no-expires", "--no-rate-limit", "--no-credits", "--permissions", "", "--meta", "{}")
	if u.ExpiresAt != nil || u.RateLimit != nil || u.Credits != nil || len(u.Permissions) != 0 || compactJSON(u.Meta) != `{}` {
		t.Fatalf("update clearing: got %+v", u)
	}

	if got := mustCLIJSON[latchkey.Key](t, env, "keys", "enable", id); !got.Enabled || got.Status != latchkey.StatusActive {
		t.Fatalf("enable: got %+v", got)
	}
	if got := mustCLIJSON[latchkey.Key](t, env, "keys", "disable", id); got.Enabled {
		t.Fatalf("disable: got %+v", got)
	}
	if r := runCLI(t, env, "keys", "verify", created.Secret); r.code != 1 || !strings.HasPrefix(r.stdout, "DISABLED") {
		t.Fatalf("verify a disabled key: got exit %d, %q; want 1 and DISABLED", r.code, r.stdout)
	}
	mustCLI(t, env, "keys", "enable", id)
	mustCLI(t, env, "keys", "update", id, "--max-devices", "1")

	// Verify, with devices and usage.
	if got := mustCLI(t, env, "keys", "verify", created.Secret, "--device", "laptop-7"); !strings.HasPrefix(got, "VALID") {
		t.Fatalf("verify: got %q", got)
	}
	if r := runCLI(t, env, "keys", "verify", created.Secret, "--device", "phone-2"); r.code != 1 || !strings.HasPrefix(r.stdout, "DEVICE_LIMIT_EXCEEDED") {
		t.Fatalf("verify a second device: got exit %d, %q", r.code, r.stdout)
	}
	if got := mustCLI(t, env, "keys", "devices", id, "-o", "id"); got != "laptop-7\n" {
		t.Fatalf("devices -o id: got %q", got)
	}
	if got := mustCLI(t, env, "keys", "devices", id); !strings.Contains(got, "DEVICE") || !strings.Contains(got, "laptop-7") {
		t.Fatalf("devices: got %q", got)
	}
	mustCLI(t, env, "keys", "devices", id, "--remove", "laptop-7")
	if got := mustCLI(t, env, "keys", "devices", id, "-o", "id"); got != "" {
		t.Fatalf("devices after --remove: got %q", got)
	}
	usage := mustCLIJSON[struct {
		Data []latchkey.UsageBucket `json:"data"`
	}](t, env, "keys", "usage", id, "--bucket", "day", "--since", "48h")
	if len(usage.Data) == 0 {
		t.Fatalf("usage: no buckets")
	}
	if out := mustCLI(t, env, "keys", "usage", id); !strings.Contains(out, "START") {
		t.Fatalf("usage table: got %q", out)
	}

	// Lists and their filters.
	if got := mustCLI(t, env, "keys", "list", "--kind", "api", "-o", "id"); got != id+"\n" {
		t.Fatalf("list --kind api -o id: got %q, want %q", got, id+"\n")
	}
	if got := mustCLI(t, env, "keys", "list", "--owner-email", "nobody@acme.test", "-o", "id"); got != "" {
		t.Fatalf("list --owner-email nobody: got %q", got)
	}
	mustCLI(t, env, "keys", "create", "--name", "second")
	mustCLI(t, env, "keys", "create", "--name", "third")
	if got := strings.Fields(mustCLI(t, env, "keys", "list", "--kind", "api", "--limit", "1", "--all", "-o", "id")); len(got) != 3 {
		t.Fatalf("list --limit 1 --all: got %v, want 3 ids", got)
	}

	rotated := mustCLIJSON[struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}](t, env, "keys", "rotate", id)
	if rotated.ID != k.ID || rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Fatalf("rotate: got %+v", rotated)
	}
	if got := mustCLIJSON[latchkey.Key](t, env, "keys", "revoke", id, "--reason", "leaked"); got.Status != latchkey.StatusRevoked || *got.RevokedReason != "leaked" {
		t.Fatalf("revoke: got %+v", got)
	}
	if got := mustCLI(t, env, "keys", "delete", id); got != "deleted key "+id+"\n" {
		t.Fatalf("delete: got %q", got)
	}
	r := runCLI(t, env, "keys", "get", id)
	if r.code != 1 || !strings.Contains(r.stderr, "not_found") {
		t.Fatalf("get a deleted key: got exit %d, stderr %q; want 1 and not_found", r.code, r.stderr)
	}
}

// TestCLINouns drives permissions, users, accounts and audit against a
// real server.
func TestCLINouns(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{AdminSecret: cliAdminSecret})
	env := rootEnv(ts)
	op := map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ADMIN_SECRET": cliAdminSecret}

	// permissions
	mustCLI(t, env, "permissions", "create", "readApplications", "--description", "read apps")
	if got := mustCLI(t, env, "permissions", "create", "billing:read", "-o", "id"); got != "billing:read\n" {
		t.Fatalf("permissions create -o id: got %q", got)
	}
	if got := mustCLI(t, env, "permissions", "list"); !strings.Contains(got, "readApplications") || !strings.Contains(got, "read apps") {
		t.Fatalf("permissions list: got %q", got)
	}
	mustCLI(t, env, "permissions", "delete", "billing:read")
	if got := mustCLI(t, env, "permissions", "list", "-o", "id"); got != "readApplications\n" {
		t.Fatalf("permissions list -o id after delete: got %q", got)
	}
	if r := runCLI(t, env, "permissions", "create", "readApplications"); r.code != 1 || !strings.Contains(r.stderr, "conflict") {
		t.Fatalf("permissions create twice: got exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, env, "keys", "create", "--permission", "nope"); r.code != 1 || !strings.Contains(r.stderr, "latchkey: invalid") {
		t.Fatalf("keys create with an unknown permission: got exit %d, stderr %q", r.code, r.stderr)
	}

	// users
	u := mustCLIJSON[latchkey.Member](t, env, "users", "create", "--email", "ada@acme.test", "--name", "Ada", "--password", "correct horse battery")
	if u.ID == 0 || u.Email != "ada@acme.test" || u.Role != latchkey.RoleMember {
		t.Fatalf("users create: got %+v", u)
	}
	uid := strconv.FormatInt(u.ID, 10)
	if got := mustCLI(t, env, "users", "list"); !strings.Contains(got, "ada@acme.test") || !strings.Contains(got, "member") {
		t.Fatalf("users list: got %q", got)
	}
	if got := mustCLIJSON[latchkey.Member](t, env, "users", "update", uid, "--role", "admin"); got.Role != latchkey.RoleAdmin || got.ID != u.ID {
		t.Fatalf("users update --role admin: got %+v", got)
	}
	if got := mustCLI(t, env, "users", "list", "-o", "id"); !strings.Contains(got, uid+"\n") {
		t.Fatalf("users list -o id: got %q", got)
	}
	if r := runCLI(t, env, "users", "create", "--email", "bob@acme.test", "--password", "short"); r.code != 1 || !strings.Contains(r.stderr, "password") {
		t.Fatalf("users create with a short password: got exit %d, stderr %q", r.code, r.stderr)
	}

	// accounts: a root key reaches its own; the operator creates more.
	if got := mustCLI(t, env, "accounts", "list"); !strings.Contains(got, "default") {
		t.Fatalf("accounts list: got %q", got)
	}
	if r := runCLI(t, env, "accounts", "create", "bravo"); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Fatalf("accounts create with a root key: got exit %d, stderr %q; want 1 and forbidden", r.code, r.stderr)
	}
	a := mustCLIJSON[latchkey.Account](t, op, "accounts", "create", "bravo", "--key-prefix", "bv")
	if a.Name != "bravo" || a.KeyPrefix != "bv" {
		t.Fatalf("accounts create: got %+v", a)
	}
	if got := strings.Fields(mustCLI(t, op, "accounts", "list", "-o", "id")); len(got) != 2 {
		t.Fatalf("accounts list as the operator: got %v, want 2 ids", got)
	}
	// The operator acts in another account with --account.
	bk := mustCLIJSON[latchkey.Key](t, op, "keys", "create", "--name", "in bravo", "--account", "bravo")
	if bk.AccountID != a.ID {
		t.Fatalf("keys create --account bravo: got account %d, want %d", bk.AccountID, a.ID)
	}
	if got := mustCLI(t, env, "keys", "list", "-o", "id"); strings.Contains(got, strconv.FormatInt(bk.ID, 10)+"\n") {
		t.Fatalf("the default account's root key sees bravo's key: %q", got)
	}

	// audit, with its filters.
	k := mustCLIJSON[latchkey.Key](t, env, "keys", "create", "--name", "audited")
	kid := strconv.FormatInt(k.ID, 10)
	mustCLI(t, env, "keys", "update", kid, "--name", "audited twice")
	events := mustCLIJSON[struct {
		Data []latchkey.AuditEvent `json:"data"`
	}](t, env, "audit", "list", "--key", kid)
	if len(events.Data) != 2 || events.Data[0].Action != latchkey.ActionKeyUpdate || events.Data[1].Action != latchkey.ActionKeyCreate {
		t.Fatalf("audit list --key: got %+v, want update then create", events.Data)
	}
	if got := mustCLI(t, env, "audit", "list", "--key", kid, "--action", "key.update", "-o", "id"); got != strconv.FormatInt(events.Data[0].ID, 10)+"\n" {
		t.Fatalf("audit list --action key.update -o id: got %q", got)
	}
	if got := mustCLI(t, env, "audit", "list", "--actor-kind", "root_key", "--since", "1h", "--limit", "1", "--all", "-o", "id"); len(strings.Fields(got)) < 4 {
		t.Fatalf("audit list --actor-kind root_key --all: got %q, want every event of the root key", got)
	}
	if got := mustCLI(t, env, "audit", "list", "--until", "2000-01-01T00:00:00Z", "-o", "id"); got != "" {
		t.Fatalf("audit list --until 2000: got %q", got)
	}
	if got := mustCLI(t, env, "audit", "list", "--key", kid); !strings.Contains(got, "key.update") || !strings.Contains(got, "name") {
		t.Fatalf("audit list table: got %q", got)
	}
}

// TestCLIUserLifecycle renames, deactivates, resets and removes a user,
// and lets a user change their own password, against a real server.
func TestCLIUserLifecycle(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{})
	env := rootEnv(ts)
	anon := map[string]string{"LATCHKEY_SERVER": ts.URL}
	const pw = "correct horse battery"
	ada := mustCLIJSON[latchkey.Member](t, env, "users", "create", "--email", "ada@acme.test", "--password", pw, "--role", "admin")
	lin := mustCLIJSON[latchkey.Member](t, env, "users", "create", "--email", "lin@acme.test", "--name", "Lin", "--password", pw)
	linID := strconv.FormatInt(lin.ID, 10)
	login := func(email, password string) int {
		return (testenv.HTTP{URL: ts.URL}).Login(t, email, password).Status
	}

	// Rename; the table shows the new name.
	if got := mustCLI(t, env, "users", "update", linID, "--name", "Lin Y."); !strings.Contains(got, "Lin Y.") {
		t.Fatalf("users update --name: got %q", got)
	}
	// Deactivate: no sign-in; reactivate: sign-in again.
	if u := mustCLIJSON[latchkey.User](t, env, "users", "update", linID, "--disabled"); !u.Disabled {
		t.Fatalf("users update --disabled: got %+v", u)
	}
	if st := login("lin@acme.test", pw); st != http.StatusUnauthorized {
		t.Fatalf("sign-in of a deactivated user: got %d, want 401", st)
	}
	if u := mustCLIJSON[latchkey.User](t, env, "users", "update", linID, "--disabled=false"); u.Disabled {
		t.Fatalf("users update --disabled=false: got %+v", u)
	}
	// An admin's reset, read from stdin.
	r := runCLIStdin(t, env, "new horse battery staple\n", "users", "update", linID, "--password-stdin")
	if r.code != 0 {
		t.Fatalf("users update --password-stdin: exit %d, %s", r.code, r.stderr)
	}
	if login("lin@acme.test", pw) != http.StatusUnauthorized || login("lin@acme.test", "new horse battery staple") != http.StatusOK {
		t.Fatalf("after the reset: the old password must fail and the new one work")
	}
	if r := runCLI(t, env, "users", "update", linID, "--password", "short"); r.code != exitFailure || !strings.Contains(r.stderr, "password") {
		t.Errorf("users update --password short: got exit %d, stderr %q, want 1 naming the password", r.code, r.stderr)
	}

	// Your own password: the current one, then the new one.
	r = runCLIStdin(t, anon, "new horse battery staple\nthird horse battery staple\n", "users", "change-password", "--email", "lin@acme.test", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "changed the password of lin@acme.test") {
		t.Fatalf("users change-password: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if login("lin@acme.test", "third horse battery staple") != http.StatusOK {
		t.Fatalf("sign-in with the changed password failed")
	}
	r = runCLIStdin(t, anon, "wrong horse battery staple\nfourth horse battery\n", "users", "change-password", "--email", "lin@acme.test", "--password-stdin")
	if r.code != exitFailure || !strings.Contains(r.stderr, "unauthorized") {
		t.Errorf("change-password with a wrong current one: got exit %d, stderr %q, want 1 and unauthorized", r.code, r.stderr)
	}

	// Remove from the account; the last admin stays.
	if r := runCLI(t, env, "accounts", "members", "remove", "default", strconv.FormatInt(ada.ID, 10)); r.code != exitFailure || !strings.Contains(r.stderr, "conflict") {
		t.Errorf("remove the last admin: got exit %d, stderr %q, want 1 and conflict", r.code, r.stderr)
	}
	if got := mustCLI(t, env, "accounts", "members", "remove", "default", linID); !strings.Contains(got, "removed user "+linID) {
		t.Fatalf("accounts members remove: got %q", got)
	}
	if got := mustCLI(t, env, "users", "list", "-o", "id"); strings.Contains(got, linID+"\n") {
		t.Fatalf("users list after the removal: got %q", got)
	}
	if r := runCLI(t, env, "accounts", "members", "remove", "default", linID); r.code != exitFailure || !strings.Contains(r.stderr, "not_found") {
		t.Errorf("remove again: got exit %d, stderr %q, want 1 and not_found", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"accounts", "members", "remove", "default", "x"},
		{"accounts", "members", "remove", "nope", linID},
		{"accounts", "members", "remove", "default"},
		{"users", "update", linID},
		{"users", "change-password"},
	} {
		if r := runCLI(t, env, args...); r.code != exitUsage {
			t.Errorf("latchkey %s: got exit %d (%s), want 2", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// runCLIStdin is runCLI with stdin.
func runCLIStdin(tb testing.TB, env map[string]string, stdin string, args ...string) cliResult {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr, func(k string) string { return env[k] })
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	code := exitCode(&stderr, root.ExecuteContext(context.Background()))
	return cliResult{stdout.String(), stderr.String(), code}
}

// TestCLIExitCodes checks 0 on success, 1 for a refusal (its code on
// stderr) and 2 for bad usage.
func TestCLIExitCodes(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{})
	env := rootEnv(ts)
	rootID := strings.TrimSpace(mustCLI(t, env, "keys", "list", "--kind", "root", "-o", "id"))
	for _, tt := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"success", env, []string{"keys", "list"}, 0, ""},
		{"group alone prints help", env, []string{"keys"}, 0, ""},
		{"unknown command", env, []string{"nope"}, 2, `unknown command "nope"`},
		{"unknown subcommand", env, []string{"keys", "patch"}, 2, `unknown command "patch" for "latchkey keys"`},
		{"unknown subcommand of another noun", env, []string{"users", "delete"}, 2, `unknown command "delete"`},
		{"suggestion", env, []string{"keys", "lst"}, 2, "did you mean list"},
		{"unknown flag", env, []string{"keys", "update", "1", "--colour", "red"}, 2, "unknown flag: --colour"},
		{"bad flag value", env, []string{"keys", "list", "--limit", "many"}, 2, "invalid argument"},
		{"missing argument", env, []string{"keys", "get"}, 2, "accepts 1 arg(s)"},
		{"not an id", env, []string{"keys", "get", "abc"}, 2, `"abc" is not a key id`},
		{"bad output", env, []string{"keys", "list", "-o", "yaml"}, 2, "--output"},
		{"required flag", env, []string{"users", "create"}, 2, `required flag(s) "email"`},
		{"exclusive flags", env, []string{"keys", "update", "1", "--expires", "1h", "--no-expires"}, 2, "none of the others can be"},
		{"nothing to update", env, []string{"keys", "update", "1"}, 2, "nothing to update"},
		{"bad meta", env, []string{"keys", "update", "1", "--meta", "[1]"}, 2, "--meta"},
		{"bad refill interval", env, []string{"keys", "create", "--credits", "1", "--refill-amount", "1", "--refill-interval", "year"}, 2, "--refill-interval"},
		{"window without a limit", env, []string{"keys", "update", rootID, "--rate-window", "2h"}, 2, "set --rate-limit too"},
		{"refill without credits", env, []string{"keys", "update", rootID, "--refill-amount", "5", "--refill-interval", "day"}, 2, "set --credits too"},
		{"negative rate limit", env, []string{"keys", "create", "--rate-limit", "-5"}, 2, "--rate-limit must not be negative"},
		{"no credential", map[string]string{"LATCHKEY_SERVER": ts.URL}, []string{"keys", "list"}, 2, "no credential"},
		{"bad server", map[string]string{"LATCHKEY_SERVER": "localhost:8080", "LATCHKEY_ROOT_KEY": "lk_x"}, []string{"keys", "list"}, 2, "want a URL like http://"},
		{"not found", env, []string{"keys", "get", "999999"}, 1, "latchkey: not_found: "},
		{"refused credential", map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ROOT_KEY": mustNewSecret()}, []string{"keys", "list"}, 1, "latchkey: unauthorized: "},
		{"field errors", env, []string{"keys", "create", "--owner-email", "not an email"}, 1, "owner_email: "},
		{"invalid key", env, []string{"keys", "verify", mustNewSecret()}, 1, "not valid: NOT_FOUND"},
		{"unreachable", map[string]string{"LATCHKEY_SERVER": "http://127.0.0.1:1", "LATCHKEY_ROOT_KEY": "lk_x"}, []string{"keys", "list"}, 1, "127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("latchkey %s: got exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code == 0 && r.stderr != "" {
				t.Fatalf("stderr on success: %q", r.stderr)
			}
		})
	}
}

// TestCLIProfiles checks that login saves a working credential in a file
// only its owner can read, that the other commands use it, and that flags
// and variables override it.
func TestCLIProfiles(t *testing.T) {
	cfg := isolateConfig(t)
	ts := MustStartServer(t, Config{AdminSecret: cliAdminSecret})
	path := filepath.Join(cfg, "latchkey", "profiles.json")

	// A refused credential is not saved.
	if r := runCLI(t, map[string]string{}, "login", "--server", ts.URL, "--root-key", mustNewSecret()); r.code != 1 || !strings.Contains(r.stderr, "unauthorized") {
		t.Fatalf("login with a bad key: got exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused login wrote %s: %v", path, err)
	}

	if got := mustCLI(t, map[string]string{}, "login", "--server", ts.URL, "--root-key", ts.RootKey); !strings.Contains(got, path) {
		t.Fatalf("login: got %q, want the path %s", got, path)
	}
	mustCLI(t, map[string]string{"LATCHKEY_SERVER": ts.URL, "LATCHKEY_ADMIN_SECRET": cliAdminSecret}, "login", "--profile", "ops")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("profiles.json mode: got %04o, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("profile directory mode: got %04o, want 0700", dst.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), ts.RootKey) || !strings.Contains(string(b), cliAdminSecret) {
		t.Fatalf("profiles.json: got %s", b)
	}

	if got := mustCLI(t, map[string]string{}, "__complete", "keys", "list", "--profile", ""); !strings.HasPrefix(got, "default\t"+ts.URL+"\nops\t"+ts.URL+"\n") {
		t.Fatalf("--profile <TAB>: got %q", got)
	}

	// The default profile serves a command with no flags or variables.
	k := mustCLIJSON[latchkey.Key](t, map[string]string{}, "keys", "create", "--name", "via profile")
	if k.ID == 0 {
		t.Fatal("keys create through the profile made no key")
	}
	// --profile and LATCHKEY_PROFILE pick another: the operator's creates accounts.
	mustCLI(t, map[string]string{}, "accounts", "create", "bravo", "--profile", "ops")
	if got := strings.Fields(mustCLI(t, map[string]string{"LATCHKEY_PROFILE": "ops"}, "accounts", "list", "-o", "id")); len(got) != 2 {
		t.Fatalf("accounts list with LATCHKEY_PROFILE=ops: got %v, want the operator's 2 accounts", got)
	}
	if r := runCLI(t, map[string]string{}, "keys", "list", "--profile", "missing"); r.code != 2 || !strings.Contains(r.stderr, `no profile "missing"`) {
		t.Fatalf("an unknown profile: got exit %d, stderr %q", r.code, r.stderr)
	}
	// A variable overrides the profile's credential, and a flag the variable.
	if r := runCLI(t, map[string]string{"LATCHKEY_ROOT_KEY": mustNewSecret()}, "keys", "list"); r.code != 1 || !strings.Contains(r.stderr, "unauthorized") {
		t.Fatalf("LATCHKEY_ROOT_KEY over the profile: got exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"LATCHKEY_ROOT_KEY": mustNewSecret()}, "keys", "list", "--root-key", ts.RootKey); r.code != 0 {
		t.Fatalf("--root-key over LATCHKEY_ROOT_KEY: got exit %d, stderr %q", r.code, r.stderr)
	}
	// Another server than the profile's never gets the profile's credential:
	// a usage error, before any request is sent.
	if r := runCLI(t, map[string]string{"LATCHKEY_SERVER": "http://127.0.0.1:1"}, "keys", "list"); r.code != 2 || !strings.Contains(r.stderr, "not for http://127.0.0.1:1") {
		t.Fatalf("LATCHKEY_SERVER other than the profile's: got exit %d, stderr %q, want a refusal to send the profile's key", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{}, "keys", "list", "--server", "http://127.0.0.1:1"); r.code != 2 || strings.Contains(r.stderr, ts.RootKey) {
		t.Fatalf("--server other than the profile's: got exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"LATCHKEY_SERVER": strings.ToUpper(ts.URL[:4]) + ts.URL[4:] + "/"}, "keys", "list"); r.code != 0 {
		t.Fatalf("the profile's own server, written differently: got exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, map[string]string{"LATCHKEY_SERVER": "http://127.0.0.1:1"}, "keys", "list", "--server", ts.URL); r.code != 0 {
		t.Fatalf("--server over LATCHKEY_SERVER: got exit %d, stderr %q", r.code, r.stderr)
	}

	// A file others may read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, map[string]string{}, "keys", "list"); r.code != 2 || !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("a readable profile file: got exit %d, stderr %q", r.code, r.stderr)
	}
	// Logging in again writes it back as 0600.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	root := newRootCmd(&stdout, &stderr, func(string) string { return "" })
	root.SetIn(strings.NewReader(ts.RootKey + "\n"))
	root.SetArgs([]string{"login", "--server", ts.URL, "--profile", "stdin", "--credential-stdin"})
	if code := exitCode(&stderr, root.Execute()); code != 0 {
		t.Fatalf("login --credential-stdin: exit %d, %s", code, stderr.String())
	}
	if got := mustCLI(t, map[string]string{}, "keys", "list", "--profile", "stdin", "-o", "id"); !strings.Contains(got, strconv.FormatInt(k.ID, 10)) {
		t.Fatalf("keys list with the stdin profile: got %q", got)
	}
}

// TestCLICompletion checks that key ids complete from the server and flag
// values from their fixed sets.
func TestCLICompletion(t *testing.T) {
	isolateConfig(t)
	ts := MustStartServer(t, Config{})
	env := rootEnv(ts)
	mustCLI(t, env, "permissions", "create", "readApplications")
	var ids []string
	for _, name := range []string{"alpha", "beta"} {
		ids = append(ids, strings.TrimSpace(mustCLI(t, env, "keys", "create", "--name", name, "-o", "id")))
	}
	complete := func(args ...string) []string {
		t.Helper()
		out := mustCLI(t, env, append([]string{"__complete"}, args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[:len(lines)-1] // the last line is the directive
	}
	for _, sub := range []string{"get", "update", "enable", "disable", "revoke", "rotate", "delete", "usage", "devices"} {
		got := complete("keys", sub, "")
		if len(got) < 3 { // two api keys and the root key
			t.Fatalf("keys %s <TAB>: got %q", sub, got)
		}
		for i, want := range []string{ids[1] + "\tbeta (active)", ids[0] + "\talpha (active)"} {
			if got[i] != want {
				t.Errorf("keys %s <TAB>: line %d is %q, want %q", sub, i, got[i], want)
			}
		}
	}
	if got := complete("permissions", "delete", ""); !equalStrings(got, "readApplications") {
		t.Errorf("permissions delete <TAB>: got %q", got)
	}
	if got := complete("users", "update", ""); len(got) != 0 {
		t.Errorf("users update <TAB> with no users: got %q", got)
	}
	mustCLI(t, env, "users", "create", "--email", "ada@acme.test", "--password", "correct horse battery")
	if got := complete("users", "update", ""); len(got) != 1 || !strings.HasSuffix(got[0], "\tada@acme.test (member)") {
		t.Errorf("users update <TAB>: got %q", got)
	}
	if got := complete("accounts", "members", "remove", ""); !equalStrings(got, "default\taccount 1") {
		t.Errorf("accounts members remove <TAB>: got %q", got)
	}
	if got := complete("accounts", "members", "remove", "default", ""); len(got) != 1 || !strings.HasSuffix(got[0], "\tada@acme.test (member)") {
		t.Errorf("accounts members remove default <TAB>: got %q", got)
	}
	if got := complete("keys", "get", ids[0], ""); len(got) != 0 {
		t.Errorf("keys get ID <TAB>: got %q, want nothing after the one id", got)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "list", "--status", ""}, "active,disabled,expired,revoked"},
		{[]string{"keys", "list", "--kind", ""}, "api,root"},
		{[]string{"keys", "create", "--kind", ""}, "api,root"},
		{[]string{"keys", "list", "-o", ""}, "table,json,id"},
		{[]string{"audit", "list", "--output", ""}, "table,json,id"},
		{[]string{"keys", "update", ids[0], "--refill-interval", ""}, "hour,day,week,month"},
		{[]string{"keys", "create", "--permission", ""}, "readApplications"},
		{[]string{"audit", "list", "--actor-kind", ""}, "operator,root_key,user,system"},
	} {
		if got := strings.Join(complete(tt.args...), ","); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

// equalStrings reports whether got holds exactly want, in order.
func equalStrings(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// compactJSON is b without insignificant white space.
func compactJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}
