package sqldb_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/sqldb"
)

// conformance is the store conformance suite: every case runs on a fresh
// database of every backend.
var conformance = []struct {
	name string
	fn   func(t *testing.T, b backend)
}{
	{"MigrateIdempotent", testMigrateIdempotent},
	{"ReopenKeepsData", testReopenKeepsData},
	{"Ping", testPing},
	{"Bootstrap", testBootstrap},
	{"BootstrapConcurrent", testBootstrapConcurrent},
	{"SecretKey", testSecretKey},
	{"Accounts", testAccounts},
	{"CreateKey", testCreateKey},
	{"CreateKeyInvalid", testCreateKeyInvalid},
	{"AccountIsolation", testAccountIsolation},
	{"UpdateKeyMergePatch", testUpdateKeyMergePatch},
	{"UpdateKeyPermissions", testUpdateKeyPermissions},
	{"UpdateKeyNoChange", testUpdateKeyNoChange},
	{"RevokeAndUnrevoke", testRevokeAndUnrevoke},
	{"RotateKey", testRotateKey},
	{"DeleteKey", testDeleteKey},
	{"FindKeysFilters", testFindKeysFilters},
	{"FindKeysPagination", testFindKeysPagination},
	{"FindKeysInvalid", testFindKeysInvalid},
	{"ConcurrentWriters", testConcurrentWriters},
	{"ConcurrentSameKey", testConcurrentSameKey},
	{"FindVerifyKey", testFindVerifyKey},
	{"Devices", testDevices},
	{"AddDeviceConcurrentLimit", testAddDeviceConcurrentLimit},
	{"FlushUsage", testFlushUsage},
	{"FlushUsageMany", testFlushUsageMany},
	{"FlushUsageConcurrent", testFlushUsageConcurrent},
	{"FindUsage", testFindUsage},
	{"Permissions", testPermissions},
	{"PermissionDeleteConcurrent", testPermissionDeleteConcurrent},
	{"Audit", testAudit},
	{"AuditFilters", testAuditFilters},
	{"ChangeFeed", testChangeFeed},
	{"Users", testUsers},
	{"CreateUserInvalid", testCreateUserInvalid},
	{"FindUserNotFound", testFindUserNotFound},
	{"HomeAccount", testHomeAccount},
	{"Memberships", testMemberships},
	{"CreateMember", testCreateMember},
	{"SetMembershipErrors", testSetMembershipErrors},
	{"SessionCreate", testSessionCreate},
	{"SessionCreateErrors", testSessionCreateErrors},
	{"SessionClipsClientFields", testSessionClipsClientFields},
	{"SessionRefresh", testSessionRefresh},
	{"SessionReuse", testSessionReuse},
	{"SessionExpiry", testSessionExpiry},
	{"SessionRefreshConcurrent", testSessionRefreshConcurrent},
	{"SessionRevoke", testSessionRevoke},
	{"RevokeUserSessions", testRevokeUserSessions},
	{"PruneSessions", testPruneSessions},
	{"UpdateUser", testUpdateUser},
	{"UpdateUserErrors", testUpdateUserErrors},
	{"FindUsers", testFindUsers},
	{"RemoveMember", testRemoveMember},
	{"LastAdminConcurrent", testLastAdminConcurrent},
	{"CompleteSetup", testCompleteSetup},
	{"SetupTokenExpiry", testSetupTokenExpiry},
	{"SetupTokenNoUsers", testSetupTokenNoUsers},
	{"SetupConcurrent", testSetupConcurrent},
}

// TestStore runs the conformance suite on every backend.
func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			for _, c := range conformance {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, b)
				})
			}
		})
	}
}

// testMigrateIdempotent checks migrating again changes nothing.
func testMigrateIdempotent(t *testing.T, b backend) {
	e := MustEnv(t, b)
	for i := 0; i < 3; i++ {
		if err := e.store.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again (%d): %v", i, err)
		}
	}
	// A second store on the same database migrates to the same schema.
	MustOpen(t, e.dsn, e.clock.Now)
}

// testReopenKeepsData checks a closed and reopened store has what it had.
func testReopenKeepsData(t *testing.T, b backend) {
	clock := newTestClock()
	dsn := b.newDSN(t)
	s, err := sqldb.Open(ctx, dsn, clock.Now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	a := MustCreateAccount(t, s, "acme")
	MustCreatePermission(t, s, a.ID, "read")
	k, secret := MustCreateKey(t, s, a.ID, &latchkey.KeyCreate{Name: "kept", Permissions: []string{"read"}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := MustOpen(t, dsn, clock.Now)
	got := MustFindKey(t, s2, a.ID, k.ID)
	if got.Name != "kept" || len(got.Permissions) != 1 {
		t.Errorf("after reopen: got %+v, want the key named kept with one permission", got)
	}
	if _, err := s2.FindVerifyKey(ctx, latchkey.HashSecret(secret)); err != nil {
		t.Errorf("FindVerifyKey after reopen: got %v, want nil", err)
	}
}

// testPing checks an open store answers Ping and names its dialect.
func testPing(t *testing.T, b backend) {
	e := MustEnv(t, b)
	if err := e.store.Ping(ctx); err != nil {
		t.Fatalf("Ping: got %v, want nil", err)
	}
	if got := e.store.Dialect(); got != b.name {
		t.Errorf("Dialect: got %q, want %q", got, b.name)
	}
}

// testBootstrap checks the first start makes the default account, its root key and a setup link, once.
func testBootstrap(t *testing.T, b backend) {
	e := MustEnv(t, b)
	boot, err := e.store.Bootstrap(ctx)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if boot == nil {
		t.Fatal("Bootstrap on an empty store: got nil, want the account and key")
	}
	if boot.Account.Name != latchkey.DefaultAccountName || boot.Account.KeyPrefix != latchkey.DefaultKeyPrefix {
		t.Errorf("account: got %+v, want default with prefix lk", boot.Account)
	}
	k := boot.Key
	if k.Kind != latchkey.KindRoot || k.Name != sqldb.BootstrapKeyName || k.AccountID != boot.Account.ID {
		t.Errorf("key: got kind %q name %q account %d, want a root key of the default account", k.Kind, k.Name, k.AccountID)
	}
	if !latchkey.HasPermissions(k.Permissions, latchkey.RootPermissions) || len(k.Permissions) != len(latchkey.RootPermissions) {
		t.Errorf("permissions: got %v, want %v", k.Permissions, latchkey.RootPermissions)
	}
	if !latchkey.CheckSecret(boot.Secret) {
		t.Errorf("secret does not pass its checksum")
	}
	vk, err := e.store.FindVerifyKey(ctx, latchkey.HashSecret(boot.Secret))
	if err != nil || vk.KeyID != k.ID {
		t.Fatalf("FindVerifyKey(bootstrap secret): got %+v, %v, want key %d", vk, err, k.ID)
	}
	again, err := e.store.Bootstrap(ctx)
	if err != nil || again != nil {
		t.Errorf("second Bootstrap: got %+v, %v, want nil, nil", again, err)
	}
}

// testBootstrapConcurrent checks instances starting at once bootstrap exactly once.
func testBootstrapConcurrent(t *testing.T, b backend) {
	e := MustEnv(t, b)
	// Two instances on one database, each starting several times at once.
	var created atomic.Int32
	errs := race(8, MustTwoStores(t, e), func(_ int, s *sqldb.Store) error {
		boot, err := s.Bootstrap(ctx)
		if boot != nil {
			created.Add(1)
		}
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Errorf("Bootstrap: %v", err)
	}
	if n := created.Load(); n != 1 {
		t.Errorf("bootstraps that created: got %d, want 1", n)
	}
	accounts, err := e.store.FindAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 1 {
		t.Fatalf("accounts: got %d, want 1", len(accounts))
	}
	keys, _, err := e.store.FindKeys(ctx, latchkey.KeyFilter{AccountID: accounts[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("root keys: got %d, want 1", len(keys))
	}
}

// testSecretKey checks the server's secret key is made once and the same for every instance.
func testSecretKey(t *testing.T, b backend) {
	e := MustEnv(t, b)
	k1, err := e.store.SecretKey(ctx)
	if err != nil {
		t.Fatalf("SecretKey: %v", err)
	}
	if len(k1) != 32 {
		t.Fatalf("len: got %d, want 32", len(k1))
	}
	if bytes.Equal(k1, make([]byte, 32)) {
		t.Fatal("secret key is all zeros")
	}
	k2, err := e.store.SecretKey(ctx)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second call: got %x, %v, want %x", k2, err, k1)
	}

	// Other instances, concurrently, and after a reopen, see the same key.
	other := MustOpen(t, e.dsn, e.clock.Now)
	errs := race(4, []*sqldb.Store{other}, func(_ int, s *sqldb.Store) error {
		k, err := s.SecretKey(ctx)
		if err == nil && !bytes.Equal(k, k1) {
			err = fmt.Errorf("got %x, want %x", k, k1)
		}
		return err
	})
	if err := errors.Join(errs...); err != nil {
		t.Errorf("other instance: %v", err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := MustOpen(t, e.dsn, e.clock.Now)
	k3, err := reopened.SecretKey(ctx)
	if err != nil || !bytes.Equal(k1, k3) {
		t.Errorf("after reopen: got %x, %v, want %x", k3, err, k1)
	}
}

// TestSecretKeyFreshDatabases checks two databases get different secret keys.
func TestSecretKeyFreshDatabases(t *testing.T) {
	s1 := MustOpen(t, t.TempDir()+"/a.db", nil)
	s2 := MustOpen(t, t.TempDir()+"/b.db", nil)
	k1, err1 := s1.SecretKey(ctx)
	k2, err2 := s2.SecretKey(ctx)
	if err1 != nil || err2 != nil {
		t.Fatalf("SecretKey: %v, %v", err1, err2)
	}
	if bytes.Equal(k1, k2) {
		t.Errorf("two databases got the same secret key %x", k1)
	}
}

// testAccounts checks creating, finding and listing accounts, and their conflicts.
func testAccounts(t *testing.T, b backend) {
	e := MustEnv(t, b)
	s := e.store
	a := &latchkey.Account{Name: "acme"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if a.ID == 0 || a.KeyPrefix != "lk" || !a.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("created: got %+v, want an id, prefix lk and created_at %v", a, e.clock.Now())
	}
	bb := &latchkey.Account{Name: "beta", KeyPrefix: "bt"}
	if err := s.CreateAccount(ctx, bb); err != nil {
		t.Fatalf("CreateAccount(beta): %v", err)
	}

	got, err := s.FindAccountByID(ctx, a.ID)
	if err != nil || *got != *a {
		t.Errorf("FindAccountByID: got %+v, %v, want %+v", got, err, a)
	}
	got, err = s.FindAccountByName(ctx, "beta")
	if err != nil || *got != *bb {
		t.Errorf("FindAccountByName: got %+v, %v, want %+v", got, err, bb)
	}
	list, err := s.FindAccounts(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != bb.ID {
		t.Errorf("FindAccounts: got %v, %v, want [acme beta] by id", list, err)
	}
	k, secret := MustCreateKey(t, s, bb.ID, nil)
	if k.Start[:3] != "bt_" || secret[:3] != "bt_" {
		t.Errorf("key of account with prefix bt: got start %q, want bt_…", k.Start)
	}

	tests := []struct {
		name string
		a    latchkey.Account
		code string
	}{
		{"duplicate name", latchkey.Account{Name: "acme"}, latchkey.ECONFLICT},
		{"empty name", latchkey.Account{}, latchkey.EINVALID},
		{"bad prefix", latchkey.Account{Name: "x", KeyPrefix: "Bad_"}, latchkey.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			wantCode(t, s.CreateAccount(ctx, &a), tt.code)
		})
	}
	_, err = s.FindAccountByID(ctx, 9999)
	wantCode(t, err, latchkey.ENOTFOUND)
	_, err = s.FindAccountByName(ctx, "nobody")
	wantCode(t, err, latchkey.ENOTFOUND)

	events := MustAuditEvents(t, s, latchkey.AuditFilter{AccountID: a.ID})
	if len(events) != 1 || events[0].Action != latchkey.ActionAccountCreate || string(events[0].Changes["name"].After) != `"acme"` {
		t.Errorf("audit of account create: got %+v, want one account.create naming acme", events)
	}
}
