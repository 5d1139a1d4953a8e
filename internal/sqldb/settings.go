// Store-wide settings: the secret key every instance shares.

package sqldb

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// Settings are named values the instances sharing a store agree on.

// settingSecretKey holds the server's secret key, base64.
const settingSecretKey = "secret_key"

// SecretKey returns the server's 32-byte secret key (session signing, CSRF
// derivation), generating it on first use. Every instance on the store gets
// the same key: the first to insert it wins and the others read it.
func (s *Store) SecretKey(ctx context.Context) ([]byte, error) {
	return writeTx(ctx, s, func(tx *Tx) ([]byte, error) {
		var fresh [32]byte
		if _, err := rand.Read(fresh[:]); err != nil {
			return nil, fmt.Errorf("generate secret key: %w", err)
		}
		if err := insertSettingIfAbsent(ctx, tx, settingSecretKey, base64.StdEncoding.EncodeToString(fresh[:])); err != nil {
			return nil, err
		}
		v, err := findSetting(ctx, tx, settingSecretKey)
		if err != nil {
			return nil, err
		}
		key, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("setting %s: not 32 bytes of base64", settingSecretKey)
		}
		return key, nil
	})
}

// insertSettingIfAbsent stores a setting unless it is already set.
func insertSettingIfAbsent(ctx context.Context, tx *Tx, name, value string) error {
	if _, err := tx.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return fmt.Errorf("insert setting %s: %w", name, err)
	}
	return nil
}

// findSetting returns a setting's value.
func findSetting(ctx context.Context, tx *Tx, name string) (string, error) {
	var v string
	err := tx.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if noRow(err) {
		return "", fmt.Errorf("setting %s is missing", name)
	} else if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}
