package compat

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// Decoders of the seed surfaces, exported for the fuzz targets. Each
// returns the update and, on bad input, the HTTP status it answers.

// withStatus is a decoder's result as the fuzz targets compare it: the value
// and 200, or the zero value and the status its refusal answers.
func withStatus[T any](v T, err replier) (T, int) {
	if err != nil {
		var zero T
		return zero, err.head().Status
	}
	return v, http.StatusOK
}

// DecodeMailForwardPatch is seed 000's decoder: the body, the DTO checks and
// the checks after the lookup.
func DecodeMailForwardPatch(b []byte, now time.Time) (*latchkey.KeyUpdate, int) {
	m, err := parseMailForwardBody(b)
	if err == nil {
		err = checkMailForwardDTO(m)
	}
	if err != nil {
		return withStatus[*latchkey.KeyUpdate](nil, err)
	}
	return withStatus(decodeMailForwardPatch(m, now))
}

// DecodeWhatsAppPatch is seed 001's decoder.
func DecodeWhatsAppPatch(b []byte) (*latchkey.KeyUpdate, int) {
	return withStatus(decodeWhatsAppPatch(b))
}

// DecodePulseCRMInput is seed 002's decoder.
func DecodePulseCRMInput(b []byte) (*latchkey.KeyUpdate, int) {
	return withStatus(decodePulseCRMInput(b))
}

// DecodeUnleashExpiry is seed 003's decoder.
func DecodeUnleashExpiry(b []byte) (time.Time, int) { return withStatus(decodeUnleashExpiry(b)) }

// DecodeUnleashCreate is seed 003's create decoder.
func DecodeUnleashCreate(b []byte) (*latchkey.KeyCreate, int) {
	return withStatus(decodeUnleashCreate(b))
}

// DecodeWhatsAppCreate is seed 001's create decoder.
func DecodeWhatsAppCreate(b []byte) (*latchkey.KeyCreate, int) {
	return withStatus(decodeWhatsAppCreate(b))
}

// DecodeMailForwardCreate is seed 000's create decoder, as of now.
func DecodeMailForwardCreate(b []byte, now time.Time) (*latchkey.KeyCreate, int) {
	m, err := parseMailForwardBody(b)
	if err != nil {
		return withStatus[*latchkey.KeyCreate](nil, err)
	}
	c, _, err := decodeMailForwardCreate(m, now)
	return withStatus(c, err)
}

// FormToJSON is the form reader of seeds 000 and 001, with seed 001's kinds.
func FormToJSON(b []byte) ([]byte, error) { return formToJSON(b, whatsApp.form) }
