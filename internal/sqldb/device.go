// The devices of keys: listing, adding under a key's limit, deleting.

package sqldb

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey"
)

// FindDevices lists the key's devices, oldest first. Errors: not_found.
func (s *Store) FindDevices(ctx context.Context, accountID, keyID int64) ([]*latchkey.Device, error) {
	return readTx(ctx, s, func(tx *Tx) ([]*latchkey.Device, error) {
		if err := keyExists(ctx, tx, accountID, keyID, false); err != nil {
			return nil, err
		}
		return findDevices(ctx, tx, keyID)
	})
}

// DeleteDevice forgets one device of a key, so the key may admit another.
// Errors: not_found (key or device).
func (s *Store) DeleteDevice(ctx context.Context, accountID, keyID int64, deviceID string) error {
	return s.write(ctx, func(tx *Tx) error {
		return deleteDevice(ctx, tx, accountID, keyID, deviceID)
	})
}

// AddDevice registers a device for a key unless the key already has max
// (0 = unlimited) devices; a known device is a no-op. The count and the
// insert happen in one write transaction holding the key's row, so
// concurrent calls never admit more than max. Errors: invalid (device id),
// conflict (limit reached), not_found (key gone).
func (s *Store) AddDevice(ctx context.Context, keyID int64, deviceID string, max int64) error {
	if err := latchkey.ValidateDeviceID(deviceID); err != nil {
		return err
	}
	return s.write(ctx, func(tx *Tx) error {
		return addDevice(ctx, tx, keyID, deviceID, max)
	})
}

// addDevice is AddDevice inside a write transaction: it holds the key's
// row while it counts the devices, so concurrent calls respect max.
func addDevice(ctx context.Context, tx *Tx, keyID int64, deviceID string, max int64) error {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM keys WHERE id = ?`+tx.store.dialect.forUpdate, keyID).Scan(&id)
	if err := rowErr(err, "add device", "key %d not found", keyID); err != nil {
		return err
	}
	var known, count int64
	if err := tx.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN device_id = ? THEN 1 ELSE 0 END), 0)
		FROM devices WHERE key_id = ?`, deviceID, keyID).Scan(&count, &known); err != nil {
		return fmt.Errorf("count devices: %w", err)
	}
	if known > 0 {
		return nil
	}
	if max > 0 && count >= max {
		return latchkey.Errorf(latchkey.ECONFLICT, "key %d already has %d devices, its limit", keyID, count)
	}
	if _, err := tx.exec(ctx, `INSERT INTO devices (key_id, device_id, created_at) VALUES (?, ?, ?)`,
		keyID, deviceID, micros(tx.now)); err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}

// deleteDevice is DeleteDevice inside a write transaction; it audits the
// deletion and announces the key's change.
func deleteDevice(ctx context.Context, tx *Tx, accountID, keyID int64, deviceID string) error {
	if err := keyExists(ctx, tx, accountID, keyID, true); err != nil {
		return err
	}
	if n, err := execCount(ctx, tx, "delete device", `DELETE FROM devices WHERE key_id = ? AND device_id = ?`, keyID, deviceID); err != nil {
		return err
	} else if n == 0 {
		return latchkey.Errorf(latchkey.ENOTFOUND, "device %q of key %d not found", deviceID, keyID)
	}
	if err := insertAuditEvent(ctx, tx, &latchkey.AuditEvent{
		AccountID:  accountID,
		Action:     latchkey.ActionDeviceDelete,
		TargetType: "device",
		TargetID:   deviceID,
		Changes:    map[string]latchkey.Change{"device_id": removed(deviceID)},
	}, keyID); err != nil {
		return err
	}
	return tx.keyChanged(ctx, accountID, keyID)
}

// findDevicesQuery lists a key's devices, oldest first.
const findDevicesQuery = `SELECT device_id, created_at FROM devices WHERE key_id = ? ORDER BY created_at, device_id`

// findDevices lists a key's devices, oldest first, through the prepared
// findDevicesQuery.
func findDevices(ctx context.Context, tx *Tx, keyID int64) ([]*latchkey.Device, error) {
	rows, err := tx.queryCached(ctx, findDevicesQuery, keyID)
	return collect(rows, err, "find devices", func(r scanner) (*latchkey.Device, error) {
		d := &latchkey.Device{KeyID: keyID}
		var createdAt int64
		if err := r.Scan(&d.DeviceID, &createdAt); err != nil {
			return nil, err
		}
		d.CreatedAt = fromMicros(createdAt)
		return d, nil
	})
}

// keyExists returns not_found unless the account has the key; lock (in a
// write transaction) locks its row.
func keyExists(ctx context.Context, tx *Tx, accountID, keyID int64, lock bool) error {
	q := `SELECT id FROM keys WHERE id = ? AND account_id = ?`
	if lock {
		q += tx.store.dialect.forUpdate
	}
	var id int64
	return rowErr(tx.queryRow(ctx, q, keyID, accountID).Scan(&id), "find key", "key %d not found", keyID)
}
