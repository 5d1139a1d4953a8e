package compat

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// Decoders of the seed surfaces, exported for the fuzz targets. Each
// returns the update and, on bad input, the HTTP status it answers.

// DecodeTokenPatch is seed 000's decoder: the body, the DTO checks and
// the checks after the lookup.
func DecodeTokenPatch(b []byte, now time.Time) (*latchkey.KeyUpdate, int) {
	m, err := parseTokenBody(b)
	if err == nil {
		err = checkTokenDTO(m)
	}
	if err != nil {
		return nil, err.Status
	}
	u, err := decodeTokenPatch(m, now)
	if err != nil {
		return nil, err.Status
	}
	return u, http.StatusOK
}

// DecodeAdminKeyPatch is seed 001's decoder.
func DecodeAdminKeyPatch(b []byte) (*latchkey.KeyUpdate, int) {
	u, err := decodeAdminKeyPatch(b)
	if err != nil {
		return nil, err.Status
	}
	return u, http.StatusOK
}

// DecodeAPIKeyInput is seed 002's decoder.
func DecodeAPIKeyInput(b []byte) (*latchkey.KeyUpdate, int) {
	u, err := decodeAPIKeyInput(b)
	if err != nil {
		return nil, err.Status
	}
	return u, http.StatusOK
}

// DecodeExpiryUpdate is seed 003's decoder.
func DecodeExpiryUpdate(b []byte) (time.Time, int) {
	t, err := decodeExpiryUpdate(b)
	if err != nil {
		return time.Time{}, err.Status
	}
	return t, http.StatusOK
}
