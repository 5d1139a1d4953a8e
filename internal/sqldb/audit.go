// The audit log: FindAuditEvents, writing an event, and the field diffs
// events record.

package sqldb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AuditService = (*Store)(nil)

// FindAuditEvents returns a page of an account's events, newest first, and
// the cursor of the next page ("" at the end). Since is inclusive, Until
// exclusive. KeyID matches the events of a key and of its devices.
// Errors: invalid (bad cursor or limit).
func (s *Store) FindAuditEvents(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditEvent, string, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursorAudit, f.Cursor)
	if err != nil {
		return nil, "", err
	}
	where := []string{"account_id = ?"}
	args := []any{f.AccountID}
	if f.KeyID != nil {
		where, args = append(where, "key_id = ?"), append(args, *f.KeyID)
	}
	if f.ActorKind != nil {
		where, args = append(where, "actor_kind = ?"), append(args, string(*f.ActorKind))
	}
	if f.ActorID != nil {
		where, args = append(where, "actor_id = ?"), append(args, *f.ActorID)
	}
	if f.Action != nil {
		where, args = append(where, "action = ?"), append(args, *f.Action)
	}
	if f.Since != nil {
		where, args = append(where, "time >= ?"), append(args, micros(*f.Since))
	}
	if f.Until != nil {
		where, args = append(where, "time < ?"), append(args, micros(*f.Until))
	}
	if after > 0 {
		where, args = append(where, "id < ?"), append(args, after)
	}
	args = append(args, limit+1)

	return readTx2(ctx, s, func(tx *Tx) ([]*latchkey.AuditEvent, string, error) {
		rows, err := tx.query(ctx, `
			SELECT id, account_id, time, actor_kind, actor_id, action, target_type, target_id, changes, ip, user_agent
			FROM audit_events
			WHERE `+strings.Join(where, " AND ")+`
			ORDER BY id DESC
			LIMIT ?`, args...)
		if err != nil {
			return nil, "", fmt.Errorf("find audit events: %w", err)
		}
		defer rows.Close()
		list := []*latchkey.AuditEvent{}
		for rows.Next() {
			var e latchkey.AuditEvent
			var t int64
			var kind, changes string
			if err := rows.Scan(&e.ID, &e.AccountID, &t, &kind, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID,
				&changes, &e.IP, &e.UserAgent); err != nil {
				return nil, "", fmt.Errorf("find audit events: %w", err)
			}
			e.Time, e.ActorKind = fromMicros(t), latchkey.ActorKind(kind)
			if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
				return nil, "", fmt.Errorf("audit event %d: decode changes: %w", e.ID, err)
			}
			if e.Changes == nil {
				e.Changes = map[string]latchkey.Change{}
			}
			list = append(list, &e)
		}
		if err := rowsErr(rows); err != nil {
			return nil, "", fmt.Errorf("find audit events: %w", err)
		}
		next := ""
		if len(list) > limit {
			list = list[:limit]
			next = encodeCursor(cursorAudit, list[limit-1].ID)
		}
		return list, next, nil
	})
}

// audit appends an event of the account about a target that is not a key:
// the short form of insertAuditEvent for accounts, permissions, users,
// members and sessions. target is the target's id or name, as %v prints it.
func audit(ctx context.Context, tx *Tx, accountID int64, action, targetType string, target any, changes map[string]latchkey.Change) error {
	return insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID: accountID, Action: action, TargetType: targetType, TargetID: fmt.Sprint(target), Changes: changes,
	}, 0)
}

// auditHome is audit in the home account (see homeAccountID), where the
// events of users, sign-ins and the setup link go.
func auditHome(ctx context.Context, tx *Tx, action, targetType string, target any, changes map[string]latchkey.Change) error {
	home, err := homeAccountID(ctx, tx)
	if err != nil {
		return err
	}
	return audit(ctx, tx, home, action, targetType, target, changes)
}

// insertAuditEvent appends e, stamped with the transaction's now and the
// context's actor. keyID (0 for none) links the event to a key for
// AuditFilter.KeyID. The caller must keep secrets and hashes out of Changes.
func insertAuditEvent(ctx context.Context, tx *Tx, e *latchkey.AuditEvent, keyID int64) error {
	q, args, err := auditInsert(ctx, tx, e, keyID)
	if err != nil {
		return err
	}
	if tx.store.dialect == sqliteDialect {
		// SQLite's rowid of the row just inserted, without RETURNING's rows.
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		return nil
	}
	if err := tx.queryRow(ctx, q+` RETURNING id`, args...).Scan(&e.ID); err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// auditInsert stamps e as insertAuditEvent does and returns the INSERT
// that appends it (without RETURNING) and its arguments, for a caller
// that sends it in one statement with another (updateKey on PostgreSQL).
func auditInsert(ctx context.Context, tx *Tx, e *latchkey.AuditEvent, keyID int64) (string, []any, error) {
	actor := latchkey.ActorFromContext(ctx)
	e.Time, e.ActorKind, e.ActorID, e.IP, e.UserAgent = tx.now, actor.Kind, actor.ID, actor.IP, actor.UserAgent
	if e.Changes == nil {
		e.Changes = map[string]latchkey.Change{}
	}
	changes, err := json.Marshal(e.Changes)
	if err != nil {
		return "", nil, fmt.Errorf("encode audit changes: %w", err)
	}
	var key any
	if keyID != 0 {
		key = keyID
	}
	return auditInsertQuery, []any{e.AccountID, micros(e.Time), string(e.ActorKind), e.ActorID, e.Action, e.TargetType,
		e.TargetID, key, string(changes), e.IP, e.UserAgent}, nil
}

// auditInsertQuery appends one audit event.
const auditInsertQuery = `
		INSERT INTO audit_events (account_id, time, actor_kind, actor_id, action, target_type, target_id, key_id, changes, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// diffFields returns the before → after change of every field whose JSON
// differs. A nil map stands for "did not exist".
func diffFields(before, after map[string]any) map[string]latchkey.Change {
	changes := map[string]latchkey.Change{}
	diff := func(n string, b, a any) {
		if sameJSON(b, a) {
			return
		}
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		if !bytes.Equal(bj, aj) {
			changes[n] = latchkey.Change{Before: bj, After: aj}
		}
	}
	for n, b := range before {
		diff(n, b, after[n])
	}
	for n, a := range after {
		if _, ok := before[n]; !ok {
			diff(n, nil, a)
		}
	}
	return changes
}

// sameJSON reports, for the kinds of value audit fields hold, that b and a
// are the same value, so their JSON is the same and need not be encoded to
// be compared: equal strings, booleans and integers, the same pointer,
// string slices with equal elements, equal raw JSON. Any other pair is
// not known to be the same (false), and diffFields compares its JSON.
func sameJSON(b, a any) bool {
	switch b := b.(type) {
	case string:
		a, ok := a.(string)
		return ok && a == b
	case bool:
		a, ok := a.(bool)
		return ok && a == b
	case int64:
		a, ok := a.(int64)
		return ok && a == b
	case *string:
		a, ok := a.(*string)
		return ok && a == b
	case *time.Time:
		a, ok := a.(*time.Time)
		return ok && a == b
	case *latchkey.RateLimit:
		a, ok := a.(*latchkey.RateLimit)
		return ok && a == b
	case *latchkey.Credits:
		a, ok := a.(*latchkey.Credits)
		return ok && a == b
	case []string:
		a, ok := a.([]string)
		return ok && (a == nil) == (b == nil) && slices.Equal(a, b)
	case json.RawMessage:
		a, ok := a.(json.RawMessage)
		return ok && (a == nil) == (b == nil) && bytes.Equal(a, b)
	}
	return false
}

// created is the change of a field that did not exist before.
func created(v any) latchkey.Change {
	after, _ := json.Marshal(v)
	return latchkey.Change{Before: json.RawMessage("null"), After: after}
}

// removed is the change of a field that no longer exists.
func removed(v any) latchkey.Change {
	before, _ := json.Marshal(v)
	return latchkey.Change{Before: before, After: json.RawMessage("null")}
}
