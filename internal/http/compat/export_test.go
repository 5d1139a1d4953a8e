package compat

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// Decoders of the seed surfaces, exported for the fuzz targets. Each
// returns the update and, on bad input, the HTTP status it answers.

// DecodeMailForwardPatch is seed 000's decoder: the body, the DTO checks and
// the checks after the lookup.
func DecodeMailForwardPatch(b []byte, now time.Time) (*latchkey.KeyUpdate, int) {
	m, err := parseMailForwardBody(b)
	if err == nil {
		err = checkMailForwardDTO(m)
	}
	if err != nil {
		return nil, err.head().Status
	}
	u, err := decodeMailForwardPatch(m, now)
	if err != nil {
		return nil, err.head().Status
	}
	return u, http.StatusOK
}

// DecodeWhatsAppPatch is seed 001's decoder.
func DecodeWhatsAppPatch(b []byte) (*latchkey.KeyUpdate, int) {
	u, err := decodeWhatsAppPatch(b)
	if err != nil {
		return nil, err.head().Status
	}
	return u, http.StatusOK
}

// DecodePulseCRMInput is seed 002's decoder.
func DecodePulseCRMInput(b []byte) (*latchkey.KeyUpdate, int) {
	u, err := decodePulseCRMInput(b)
	if err != nil {
		return nil, err.head().Status
	}
	return u, http.StatusOK
}

// DecodeUnleashExpiry is seed 003's decoder.
func DecodeUnleashExpiry(b []byte) (time.Time, int) {
	t, err := decodeUnleashExpiry(b)
	if err != nil {
		return time.Time{}, err.head().Status
	}
	return t, http.StatusOK
}

// DecodeUnleashCreate is seed 003's create decoder.
func DecodeUnleashCreate(b []byte) (*latchkey.KeyCreate, int) {
	c, err := decodeUnleashCreate(b)
	if err != nil {
		return nil, err.head().Status
	}
	return c, http.StatusOK
}

// DecodeWhatsAppCreate is seed 001's create decoder.
func DecodeWhatsAppCreate(b []byte) (*latchkey.KeyCreate, int) {
	c, err := decodeWhatsAppCreate(b)
	if err != nil {
		return nil, err.head().Status
	}
	return c, http.StatusOK
}

// DecodeMailForwardCreate is seed 000's create decoder, as of now.
func DecodeMailForwardCreate(b []byte, now time.Time) (*latchkey.KeyCreate, int) {
	m, err := parseMailForwardBody(b)
	if err != nil {
		return nil, err.head().Status
	}
	c, _, err := decodeMailForwardCreate(m, now)
	if err != nil {
		return nil, err.head().Status
	}
	return c, http.StatusOK
}

// FormToJSON is the form reader of seeds 000 and 001, with seed 001's kinds.
func FormToJSON(b []byte) ([]byte, error) { return formToJSON(b, whatsApp.form) }
