// Keys: creating, finding, listing, updating, revoking, rotating and
// deleting them; their columns and audit fields.

package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.KeyService = (*Store)(nil)

// CreateKey creates a key and returns it with its secret, shown this once;
// only the secret's hash is stored. created_ip and user_agent come from the
// context's actor. Errors: invalid (bad field, unknown permission),
// not_found (account).
func (s *Store) CreateKey(ctx context.Context, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
	return writeTx2(ctx, s, func(tx *Tx) (*latchkey.Key, string, error) { return createKey(ctx, tx, accountID, c) })
}

// FindKeyByID returns a key of the account. Errors: not_found.
func (s *Store) FindKeyByID(ctx context.Context, accountID, id int64) (*latchkey.Key, error) {
	return readTx(ctx, s, func(tx *Tx) (*latchkey.Key, error) { return findKey(ctx, tx, accountID, id, false) })
}

// FindKeys returns a page of the account's keys, newest first, and the
// cursor of the next page ("" at the end). Errors: invalid (bad cursor,
// limit, status or kind).
func (s *Store) FindKeys(ctx context.Context, f latchkey.KeyFilter) ([]*latchkey.Key, string, error) {
	return readTx2(ctx, s, func(tx *Tx) ([]*latchkey.Key, string, error) { return findKeys(ctx, tx, f) })
}

// UpdateKey applies a merge patch (see latchkey.KeyUpdate) and records the
// fields that changed in the audit log. A patch that changes nothing writes
// nothing. Errors: invalid, not_found.
func (s *Store) UpdateKey(ctx context.Context, accountID, id int64, u *latchkey.KeyUpdate) (*latchkey.Key, error) {
	return writeTx(ctx, s, func(tx *Tx) (*latchkey.Key, error) {
		return updateKey(ctx, tx, accountID, id, u, latchkey.ActionKeyUpdate)
	})
}

// RevokeKey stamps revoked_at (keeping an earlier stamp) and sets the reason
// unless it is "". Errors: invalid (reason), not_found.
func (s *Store) RevokeKey(ctx context.Context, accountID, id int64, reason string) (*latchkey.Key, error) {
	if err := latchkey.ValidateReason(reason); err != nil {
		return nil, err
	}
	revoked := true
	u := &latchkey.KeyUpdate{Revoked: &revoked}
	if reason != "" {
		u.RevokedReason = latchkey.Some(reason)
	}
	return writeTx(ctx, s, func(tx *Tx) (*latchkey.Key, error) {
		return updateKey(ctx, tx, accountID, id, u, latchkey.ActionKeyRevoke)
	})
}

// RotateKey issues a new secret for the key and returns it with the key.
// Every other live secret of the key expires after grace (at once for 0)
// and then verifies as EXPIRED. Errors: invalid (negative grace), not_found,
// conflict (revoked key).
func (s *Store) RotateKey(ctx context.Context, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error) {
	return writeTx2(ctx, s, func(tx *Tx) (*latchkey.Key, string, error) { return rotateKey(ctx, tx, accountID, id, grace) })
}

// DeleteKey deletes a key with its secrets, permissions, devices and usage.
// Errors: not_found.
func (s *Store) DeleteKey(ctx context.Context, accountID, id int64) error {
	return s.write(ctx, func(tx *Tx) error { return deleteKey(ctx, tx, accountID, id) })
}

// createKey is CreateKey inside a write transaction: it validates the
// input, inserts the key, its secret and permissions, and audits it.
func createKey(ctx context.Context, tx *Tx, accountID int64, c *latchkey.KeyCreate) (*latchkey.Key, string, error) {
	if c == nil {
		return nil, "", latchkey.Errorf(latchkey.EINVALID, "key: missing input")
	}
	if err := c.Validate(tx.now); err != nil {
		return nil, "", err
	}
	acct, err := findAccountByID(ctx, tx, accountID)
	if err != nil {
		return nil, "", err
	}
	perms, err := checkPermissions(ctx, tx, accountID, c.Kind, c.Permissions)
	if err != nil {
		return nil, "", err
	}
	secret, hash, start := latchkey.NewSecret(acct.KeyPrefix)
	actor := latchkey.ActorFromContext(ctx)
	k := &latchkey.Key{
		AccountID:   accountID,
		Kind:        c.Kind,
		Name:        c.Name,
		Description: c.Description,
		OwnerEmail:  c.OwnerEmail,
		OwnerName:   c.OwnerName,
		OwnerPhone:  c.OwnerPhone,
		Enabled:     c.Enabled == nil || *c.Enabled,
		ExpiresAt:   truncTime(c.ExpiresAt),
		Permissions: perms,
		RateLimit:   c.RateLimit,
		MaxDevices:  c.MaxDevices,
		Credits:     startCredits(c.Credits, tx.now),
		Meta:        compactMeta(c.Meta),
		Start:       start,
		CreatedAt:   tx.now,
		UpdatedAt:   tx.now,
		CreatedIP:   actor.IP,
		UserAgent:   actor.UserAgent,
	}
	args := append([]any{k.AccountID, string(k.Kind)}, keyMutableArgs(k)...)
	args = append(args, k.Start, micros(k.CreatedAt), micros(k.UpdatedAt), k.CreatedIP, k.UserAgent)
	err = tx.queryRow(ctx, `INSERT INTO keys (account_id, kind, `+keyMutableColumns+`, start, created_at, updated_at, created_ip, user_agent)
		VALUES (`+placeholders(len(args))+`) RETURNING id`, args...).Scan(&k.ID)
	if err != nil {
		return nil, "", fmt.Errorf("insert key: %w", err)
	}
	if err := insertSecret(ctx, tx, k.ID, hash, start, nil); err != nil {
		return nil, "", err
	}
	if err := setKeyPermissions(ctx, tx, k, perms); err != nil {
		return nil, "", err
	}
	fields := auditFields(k)
	fields["kind"] = k.Kind
	if err := insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     latchkey.ActionKeyCreate,
		TargetType: "key",
		TargetID:   strconv.FormatInt(k.ID, 10),
		Changes:    diffFields(nil, fields),
	}, k.ID); err != nil {
		return nil, "", err
	}
	k, err = findKey(ctx, tx, accountID, k.ID, false)
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// updateKey is UpdateKey and RevokeKey inside a write transaction: it
// locks the key, merges the patch, writes only what changed, audits the
// changed fields as action and announces the change.
func updateKey(ctx context.Context, tx *Tx, accountID, id int64, u *latchkey.KeyUpdate, action string) (*latchkey.Key, error) {
	if u == nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "key update: missing input")
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	before, err := findKey(ctx, tx, accountID, id, true)
	if err != nil {
		return nil, err
	}
	after := *before
	now := tx.now
	u.Apply(&after, now)
	if u.Permissions != nil {
		if after.Permissions, err = checkPermissions(ctx, tx, accountID, before.Kind, *u.Permissions); err != nil {
			return nil, err
		}
	}

	changes := diffFields(auditFields(before), auditFields(&after))
	if len(changes) == 0 {
		return before, nil
	}
	after.UpdatedAt = now
	if _, ok := changes["permissions"]; ok {
		if err := setKeyPermissions(ctx, tx, &after, after.Permissions); err != nil {
			return nil, err
		}
	}
	set, args := keyChangedSet(before, &after)
	update := `UPDATE keys SET ` + set + `updated_at = ? WHERE id = ? AND account_id = ?`
	args = append(args, micros(after.UpdatedAt), id, accountID)
	event := &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     action,
		TargetType: "key",
		TargetID:   strconv.FormatInt(id, 10),
		Changes:    changes,
	}
	if tx.store.dialect == postgresDialect {
		// The update and its audit row in one statement: one round trip.
		audit, auditArgs, err := auditInsert(ctx, tx, event, id)
		if err != nil {
			return nil, err
		}
		if _, err := tx.exec(ctx, `WITH u AS (`+update+`)`+audit, append(args, auditArgs...)...); err != nil {
			return nil, fmt.Errorf("update key: %w", err)
		}
	} else {
		if _, err := tx.exec(ctx, update, args...); err != nil {
			return nil, fmt.Errorf("update key: %w", err)
		}
		if err := insertAuditEvent(ctx, tx, event, id); err != nil {
			return nil, err
		}
	}
	if err := tx.keyChanged(ctx, accountID, id); err != nil {
		return nil, err
	}
	// after is what the row now holds (the locked row as read, with the
	// patch applied as written): no second read of it and its permissions.
	after.Status = after.StatusAt(now)
	return &after, nil
}

// rotateKey is RotateKey inside a write transaction: it ends the other
// secrets' life after grace, inserts a new secret, audits and announces it.
func rotateKey(ctx context.Context, tx *Tx, accountID, id int64, grace time.Duration) (*latchkey.Key, string, error) {
	if grace < 0 {
		return nil, "", latchkey.FieldError("grace_seconds", "must not be negative")
	}
	before, err := findKey(ctx, tx, accountID, id, true)
	if err != nil {
		return nil, "", err
	}
	if before.RevokedAt != nil {
		// A new secret for a revoked key would never verify: refuse rather
		// than hand out a dead credential.
		return nil, "", latchkey.Errorf(latchkey.ECONFLICT, "key %d is revoked; a revoked key cannot be rotated", id)
	}
	acct, err := findAccountByID(ctx, tx, accountID)
	if err != nil {
		return nil, "", err
	}
	// Old secrets end at now+grace, or earlier if an earlier rotation
	// already set them to; secrets already past their end stay, so they
	// keep answering EXPIRED rather than NOT_FOUND.
	end := micros(tx.now.Add(grace))
	if _, err := tx.exec(ctx, `UPDATE key_secrets SET expires_at = ? WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)`,
		end, id, end); err != nil {
		return nil, "", fmt.Errorf("expire old secrets: %w", err)
	}
	secret, hash, start := latchkey.NewSecret(acct.KeyPrefix)
	if err := insertSecret(ctx, tx, id, hash, start, nil); err != nil {
		return nil, "", err
	}
	if _, err := tx.exec(ctx, `UPDATE keys SET start = ?, updated_at = ? WHERE id = ?`, start, micros(tx.now), id); err != nil {
		return nil, "", fmt.Errorf("update key start: %w", err)
	}
	if err := insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     latchkey.ActionKeyRotate,
		TargetType: "key",
		TargetID:   strconv.FormatInt(id, 10),
		Changes:    map[string]latchkey.Change{"grace_seconds": created(int64(grace / time.Second))},
	}, before.ID); err != nil {
		return nil, "", err
	}
	if err := tx.keyChanged(ctx, accountID, id); err != nil {
		return nil, "", err
	}
	k, err := findKey(ctx, tx, accountID, id, false)
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// deleteKey is DeleteKey inside a write transaction: it audits what it
// deletes and announces the change.
func deleteKey(ctx context.Context, tx *Tx, accountID, id int64) error {
	before, err := findKey(ctx, tx, accountID, id, true)
	if err != nil {
		return err
	}
	// Secrets, permission links, devices and usage go by ON DELETE CASCADE.
	if _, err := tx.exec(ctx, `DELETE FROM keys WHERE id = ? AND account_id = ?`, id, accountID); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	fields := auditFields(before)
	fields["kind"] = before.Kind
	if err := insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     latchkey.ActionKeyDelete,
		TargetType: "key",
		TargetID:   strconv.FormatInt(id, 10),
		Changes:    diffFields(fields, nil),
	}, id); err != nil {
		return err
	}
	return tx.keyChanged(ctx, accountID, id)
}

// insertSecret stores a key's secret: its hash, its start (shown to tell
// secrets apart) and its expiry (nil: none).
func insertSecret(ctx context.Context, tx *Tx, keyID int64, hash latchkey.SecretHash, start string, expiresAt *time.Time) error {
	if _, err := tx.exec(ctx, `INSERT INTO key_secrets (key_id, hash, start, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		keyID, hash[:], start, micros(tx.now), nullMicros(expiresAt)); err != nil {
		return fmt.Errorf("insert secret: %w", err)
	}
	return nil
}

// findKey returns a key of the account with its permissions and status.
// lock (in a write transaction) locks its row until the transaction ends.
//
// One statement reads the row and its permissions (as a JSON array).
func findKey(ctx context.Context, tx *Tx, accountID, id int64, lock bool) (*latchkey.Key, error) {
	d := tx.store.dialect
	q := `SELECT ` + keyColumns + `, ` + d.permissionsOfK + ` FROM keys k WHERE k.id = ? AND k.account_id = ?`
	if lock {
		q += d.forUpdate
	}
	var perms string
	k, err := scanKey(scanAlso{tx.queryRow(ctx, q, id, accountID), []any{&perms}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "key %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find key: %w", err)
	}
	if k.Permissions, err = permissionsFromJSON(perms); err != nil {
		return nil, fmt.Errorf("find key: permissions: %w", err)
	}
	k.Status = k.StatusAt(tx.now)
	return k, nil
}

// keyOf reads the key a one-row query selects (keyColumns) and adds its
// permissions and status. Without a row it returns not_found with the
// message notFound and args make; what names the query in other errors.
func keyOf(ctx context.Context, tx *Tx, row scanner, what, notFound string, args ...any) (*latchkey.Key, error) {
	k, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, notFound, args...)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := loadPermissions(ctx, tx, []*latchkey.Key{k}); err != nil {
		return nil, err
	}
	k.Status = k.StatusAt(tx.now)
	return k, nil
}

// findKeys is FindKeys inside a transaction: one page of the filter's keys,
// newest first, with their permissions and status.
func findKeys(ctx context.Context, tx *Tx, f latchkey.KeyFilter) ([]*latchkey.Key, string, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursorKeys, f.Cursor)
	if err != nil {
		return nil, "", err
	}
	where := []string{"k.account_id = ?"}
	args := []any{f.AccountID}
	if f.OwnerEmail != nil {
		where, args = append(where, "k.owner_email = ?"), append(args, *f.OwnerEmail)
	}
	if f.Kind != nil {
		if !f.Kind.Valid() {
			return nil, "", latchkey.FieldError("kind", "must be api or root")
		}
		where, args = append(where, "k.kind = ?"), append(args, string(*f.Kind))
	}
	if f.Status != nil {
		pred, pargs, err := statusPredicate(*f.Status, micros(tx.now))
		if err != nil {
			return nil, "", err
		}
		where, args = append(where, pred), append(args, pargs...)
	}
	if f.Query != nil && *f.Query != "" {
		p := "%" + escapeLike(strings.ToLower(*f.Query)) + "%"
		where = append(where, `(lower(k.name) LIKE ? ESCAPE '\' OR lower(k.description) LIKE ? ESCAPE '\'`+
			` OR lower(k.owner_email) LIKE ? ESCAPE '\' OR lower(k.owner_name) LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, p)
	}
	if after > 0 {
		where, args = append(where, "k.id < ?"), append(args, after)
	}
	args = append(args, limit+1)
	rows, err := tx.query(ctx, `SELECT `+keyColumns+` FROM keys k WHERE `+strings.Join(where, " AND ")+
		` ORDER BY k.id DESC LIMIT ?`, args...)
	keys, err := collect(rows, err, "find keys", scanKey)
	if err != nil {
		return nil, "", err
	}
	for _, k := range keys {
		k.Status = k.StatusAt(tx.now)
	}
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = encodeCursor(cursorKeys, keys[limit-1].ID)
	}
	if err := loadPermissions(ctx, tx, keys); err != nil {
		return nil, "", err
	}
	return keys, next, nil
}

// statusPredicate returns the SQL condition for keys whose derived status
// at now is st; it mirrors latchkey.KeyStatus.
func statusPredicate(st latchkey.Status, now int64) (string, []any, error) {
	const live = "k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?)"
	switch st {
	case latchkey.StatusRevoked:
		return "k.revoked_at IS NOT NULL", nil, nil
	case latchkey.StatusExpired:
		return "k.revoked_at IS NULL AND k.expires_at <= ?", []any{now}, nil
	case latchkey.StatusDisabled:
		return live + " AND k.enabled = ?", []any{now, false}, nil
	case latchkey.StatusActive:
		return live + " AND k.enabled = ?", []any{now, true}, nil
	}
	return "", nil, latchkey.FieldError("status", "must be one of active, disabled, expired, revoked")
}

// escapeLike escapes the LIKE wildcards of s, for ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// keyColumns are the columns scanKey reads, of table alias k.
const keyColumns = `k.id, k.account_id, k.kind, k.name, k.description, k.owner_email, k.owner_name, k.owner_phone,
	k.enabled, k.expires_at, k.revoked_at, k.revoked_reason, k.rate_limit_limit, k.rate_limit_window, k.max_devices,
	k.credits_remaining, k.credits_refill_amount, k.credits_refill_interval, k.credits_refilled_at, k.meta,
	k.start, k.created_at, k.updated_at, k.created_ip, k.user_agent, k.last_used_at, k.last_request`

// keyMutableColumns are the columns an update may change, in the order of
// keyMutableArgs.
const keyMutableColumns = `name, description, owner_email, owner_name, owner_phone, enabled, expires_at,
	revoked_at, revoked_reason, rate_limit_limit, rate_limit_window, max_devices, credits_remaining,
	credits_refill_amount, credits_refill_interval, credits_refilled_at, meta`

// keyMutableNames is keyMutableColumns, one name each.
var keyMutableNames = func() []string {
	cols := strings.Split(keyMutableColumns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}()

// keyChangedSet is "col = ?, " for each of keyMutableColumns whose value
// differs between before (the row as read, locked) and after, with the
// values: the update writes only those. The others already hold what
// after has, and an UPDATE that names a column rewrites every index on it
// (keys_owner_email on a rename) whether or not its value changed.
func keyChangedSet(before, after *latchkey.Key) (string, []any) {
	b, a := keyMutableArgs(before), keyMutableArgs(after)
	var set strings.Builder
	args := a[:0]
	for i := range a {
		// The values are strings, integers, booleans or nil: comparable.
		if a[i] != b[i] {
			set.WriteString(keyMutableNames[i])
			set.WriteString(" = ?, ")
			args = append(args, a[i])
		}
	}
	return set.String(), args
}

// keyMutableArgs are the values of keyMutableColumns of k, in order.
func keyMutableArgs(k *latchkey.Key) []any {
	var rlLimit, rlWindow, credRemaining, credRefill, credInterval, credRefilledAt any
	if k.RateLimit != nil {
		rlLimit, rlWindow = k.RateLimit.Limit, k.RateLimit.WindowSeconds
	}
	if c := k.Credits; c != nil {
		credRemaining, credRefill, credRefilledAt = c.Remaining, nullInt(c.RefillAmount), nullMicros(c.RefilledAt)
		if c.RefillInterval != "" {
			credInterval = string(c.RefillInterval)
		}
	}
	return []any{k.Name, k.Description, nullString(k.OwnerEmail), nullString(k.OwnerName), nullString(k.OwnerPhone),
		k.Enabled, nullMicros(k.ExpiresAt), nullMicros(k.RevokedAt), nullString(k.RevokedReason), rlLimit, rlWindow,
		k.MaxDevices, credRemaining, credRefill, credInterval, credRefilledAt, string(k.Meta)}
}

// scanKey reads a row of keyColumns into a key.
func scanKey(row scanner) (*latchkey.Key, error) {
	var (
		k                                                         latchkey.Key
		kind, meta                                                string
		ownerEmail, ownerName, ownerPhone, reason, refillInterval sql.NullString
		lastRequest                                               sql.NullString
		expiresAt, revokedAt, lastUsedAt, refilledAt              sql.NullInt64
		rlLimit, rlWindow, remaining, refillAmount                sql.NullInt64
		createdAt, updatedAt                                      int64
	)
	if err := row.Scan(&k.ID, &k.AccountID, &kind, &k.Name, &k.Description, &ownerEmail, &ownerName, &ownerPhone,
		&k.Enabled, &expiresAt, &revokedAt, &reason, &rlLimit, &rlWindow, &k.MaxDevices,
		&remaining, &refillAmount, &refillInterval, &refilledAt, &meta,
		&k.Start, &createdAt, &updatedAt, &k.CreatedIP, &k.UserAgent, &lastUsedAt, &lastRequest); err != nil {
		return nil, err
	}
	k.Kind = latchkey.KeyKind(kind)
	k.OwnerEmail, k.OwnerName, k.OwnerPhone = stringPtr(ownerEmail), stringPtr(ownerName), stringPtr(ownerPhone)
	k.ExpiresAt, k.RevokedAt, k.RevokedReason = timePtr(expiresAt), timePtr(revokedAt), stringPtr(reason)
	k.RateLimit, k.Credits = limitsOf(rlLimit, rlWindow, remaining, refillAmount, refillInterval, refilledAt)
	k.Meta = json.RawMessage(meta)
	k.CreatedAt, k.UpdatedAt, k.LastUsedAt = fromMicros(createdAt), fromMicros(updatedAt), timePtr(lastUsedAt)
	k.LastRequest = stringPtr(lastRequest)
	k.Permissions = []string{}
	return &k, nil
}

// limitsOf is the rate limit and the credits a key's nullable columns
// hold: nil for none.
func limitsOf(rlLimit, rlWindow, remaining, refillAmount sql.NullInt64, refillInterval sql.NullString,
	refilledAt sql.NullInt64) (*latchkey.RateLimit, *latchkey.Credits) {
	var rl *latchkey.RateLimit
	var c *latchkey.Credits
	if rlLimit.Valid && rlWindow.Valid {
		rl = &latchkey.RateLimit{Limit: rlLimit.Int64, WindowSeconds: rlWindow.Int64}
	}
	if remaining.Valid {
		c = &latchkey.Credits{
			Remaining:      remaining.Int64,
			RefillAmount:   intPtr(refillAmount),
			RefillInterval: latchkey.RefillInterval(refillInterval.String),
			RefilledAt:     timePtr(refilledAt),
		}
	}
	return rl, c
}

// auditFields returns the fields of a key the audit log records changes
// of. The secret, its hash and its start are not among them.
func auditFields(k *latchkey.Key) map[string]any {
	return map[string]any{
		"name":           k.Name,
		"description":    k.Description,
		"owner_email":    k.OwnerEmail,
		"owner_name":     k.OwnerName,
		"owner_phone":    k.OwnerPhone,
		"enabled":        k.Enabled,
		"expires_at":     k.ExpiresAt,
		"revoked_at":     k.RevokedAt,
		"revoked_reason": k.RevokedReason,
		"permissions":    k.Permissions,
		"rate_limit":     k.RateLimit,
		"max_devices":    k.MaxDevices,
		"credits":        k.Credits,
		"meta":           k.Meta,
	}
}

// startCredits returns a copy of c as set by a create or an update,
// stamped as set now: the refill period, if there is one, starts now, and
// spend counted against an older value is dropped by FlushUsage (see
// latchkey.KeyUsage.CreditsBase), so an admin's new value is never eaten
// by spend that happened before it.
func startCredits(c *latchkey.Credits, now time.Time) *latchkey.Credits {
	if c == nil {
		return nil
	}
	out := *c
	out.RefilledAt = &now
	return &out
}

// compactMeta returns validated meta in compact form; empty means {}.
func compactMeta(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("{}")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		return m // unreachable: Validate checked it is an object
	}
	return b.Bytes()
}

// truncTime returns t in UTC at the precision times are stored with.
func truncTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// scanAlso scans a row into a key's columns plus extra destinations.
type scanAlso struct {
	row   row
	extra []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }
