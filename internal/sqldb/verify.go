// The reads of verification: FindKeyBySecret and FindVerifyKey.

package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/latchkey/latchkey"
)

// Secrets are looked up by their SHA-256 only; the secret itself never
// reaches this package.

var _ latchkey.VerifyStore = (*Store)(nil)

// FindKeyBySecret returns the key of the account owning the secret with this
// hash, whether or not that secret's rotation grace has ended.
// Errors: not_found (unknown hash, or a key of another account).
func (s *Store) FindKeyBySecret(ctx context.Context, accountID int64, hash latchkey.SecretHash) (*latchkey.Key, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.Key, error) {
		return keyOf(ctx, tx, tx.queryRow(ctx, `SELECT `+keyColumns+`
			FROM key_secrets s JOIN keys k ON k.id = s.key_id
			WHERE s.hash = ? AND k.account_id = ?`, hash[:], accountID), "find key by secret", "key not found")
	})
}

// FindVerifyKey loads what verification needs of the key owning the secret
// with this hash, of any account: the key, the secret's end of grace, the
// permissions, the devices and the credits. Errors: not_found.
//
// It is one prepared query (verifyKeyQuery) selecting only those columns,
// with the permissions and the devices aggregated as JSON arrays, run
// outside a transaction: a cold verification is one statement and, on
// PostgreSQL, one round trip.
func (s *Store) FindVerifyKey(ctx context.Context, hash latchkey.SecretHash) (*latchkey.VerifyKey, error) {
	{
		var (
			vk                                         latchkey.VerifyKey
			kind, meta, perms, devices                 string
			ownerEmail, refillInterval                 sql.NullString
			expiresAt, revokedAt, secretExpiresAt      sql.NullInt64
			rlLimit, rlWindow, remaining, refillAmount sql.NullInt64
			refilledAt                                 sql.NullInt64
		)
		err := s.readRow(ctx, s.dialect.verifyKeyQuery, []any{hash[:]}, &vk.KeyID, &vk.AccountID, &kind, &vk.Name,
			&ownerEmail, &vk.Enabled, &expiresAt, &revokedAt, &rlLimit, &rlWindow, &vk.MaxDevices,
			&remaining, &refillAmount, &refillInterval, &refilledAt, &meta, &secretExpiresAt, &perms, &devices)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key not found")
		} else if err != nil {
			return nil, fmt.Errorf("find verify key: %w", err)
		}
		vk.Kind, vk.OwnerEmail = latchkey.KeyKind(kind), stringPtr(ownerEmail)
		vk.ExpiresAt, vk.RevokedAt, vk.SecretExpiresAt = timePtr(expiresAt), timePtr(revokedAt), timePtr(secretExpiresAt)
		vk.RateLimit, vk.Credits = limitsOf(rlLimit, rlWindow, remaining, refillAmount, refillInterval, refilledAt)
		vk.Meta = json.RawMessage(meta)
		var err2 error
		if vk.Permissions, err2 = permissionsFromJSON(perms); err2 != nil {
			return nil, fmt.Errorf("find verify key: permissions: %w", err2)
		}
		vk.Devices = []string{}
		if err := json.Unmarshal([]byte(devices), &vk.Devices); err != nil {
			return nil, fmt.Errorf("find verify key: devices: %w", err)
		}
		if vk.Devices == nil {
			vk.Devices = []string{}
		}
		return &vk, nil
	}
}

// readRow runs a one-row query outside any transaction (one statement
// needs none to see one snapshot) on the read pool, under the store's
// timeout, through the query's prepared statement once there is one, and
// scans the row into dest.
func (s *Store) readRow(ctx context.Context, q string, args []any, dest ...any) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if st := s.stmts.get(stmtKey{s.rdb, q}); st != nil {
		return unavailable(st.QueryRowContext(ctx, args...).Scan(dest...))
	}
	return unavailable(s.rdb.QueryRowContext(ctx, s.dialect.rebind(q), args...).Scan(dest...))
}

// verifyKeyColumns are the columns of a key verification reads, then the
// secret's end of grace.
const verifyKeyColumns = `k.id, k.account_id, k.kind, k.name, k.owner_email, k.enabled, k.expires_at, k.revoked_at,
	k.rate_limit_limit, k.rate_limit_window, k.max_devices, k.credits_remaining, k.credits_refill_amount,
	k.credits_refill_interval, k.credits_refilled_at, k.meta, s.expires_at`

// sqliteVerifyKeyQuery and postgresVerifyKeyQuery read verifyKeyColumns,
// the key's permissions (of either kind) and its devices, oldest first, as
// two JSON arrays of strings, by the secret's hash.
const (
	sqliteVerifyKeyQuery = `SELECT ` + verifyKeyColumns + `, ` + sqlitePermissionsOfK + `,
	(SELECT json_group_array(device_id) FROM (SELECT device_id FROM devices WHERE key_id = k.id
		ORDER BY created_at, device_id))
	FROM key_secrets s JOIN keys k ON k.id = s.key_id
	WHERE s.hash = ?`
	postgresVerifyKeyQuery = `SELECT ` + verifyKeyColumns + `, ` + postgresPermissionsOfK + `,
	(SELECT coalesce(json_agg(d.device_id ORDER BY d.created_at, d.device_id), '[]')::text FROM devices d
		WHERE d.key_id = k.id)
	FROM key_secrets s JOIN keys k ON k.id = s.key_id
	WHERE s.hash = ?`
)

// sqlitePermissionsOfK and postgresPermissionsOfK are the permissions of
// either kind of the key of alias k, as a JSON array of strings, unordered.
const (
	sqlitePermissionsOfK = `(SELECT json_group_array(name) FROM (SELECT name FROM key_permissions WHERE key_id = k.id
		UNION ALL SELECT name FROM key_root_permissions WHERE key_id = k.id))`
	postgresPermissionsOfK = `(SELECT coalesce(json_agg(p.name), '[]')::text FROM (SELECT name FROM key_permissions WHERE key_id = k.id
		UNION ALL SELECT name FROM key_root_permissions WHERE key_id = k.id) p)`
)

// permissionsFromJSON decodes a JSON array of permission names, sorted.
func permissionsFromJSON(b string) ([]string, error) {
	perms := []string{}
	if err := json.Unmarshal([]byte(b), &perms); err != nil {
		return nil, err
	}
	if perms == nil {
		perms = []string{}
	}
	sort.Strings(perms)
	return perms, nil
}
