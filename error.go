package latchkey

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Only internal/http maps them to statuses and envelopes.
const (
	EINVALID      = "invalid"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ERATELIMITED  = "rate_limited"
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_media_type"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
)

// Error is an application error whose Message is safe to show a caller.
// Fields names the input fields at fault, each with its own message.
// RetryAfter, for rate_limited and unavailable, is how long until a retry
// may succeed. Err is the cause, for the log only: never shown to a caller.
type Error struct {
	Code       string
	Message    string
	Fields     map[string]string
	RetryAfter time.Duration
	Err        error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("latchkey error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("latchkey error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an invalid-input error naming one field.
func FieldError(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: field + ": " + msg, Fields: map[string]string{field: msg}}
}

// ErrorCode returns the code of an application error, "" for nil and
// EINTERNAL for anything else.
func ErrorCode(err error) string {
	return errorPart(err, func(e *Error) string { return e.Code }, EINTERNAL)
}

// ErrorMessage returns the safe message of an application error, or
// "internal error" for anything else.
func ErrorMessage(err error) string {
	return errorPart(err, func(e *Error) string { return e.Message }, "internal error")
}

// errorPart is part of err's application error, "" for nil, or other for
// an error that is not one (its text may not be safe to show).
func errorPart(err error, part func(*Error) string, other string) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return part(e)
	}
	return other
}

// ErrorFields returns the per-field messages of an application error.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// RetryAfterSeconds is err's RetryAfter in whole seconds, rounded up, as a
// Retry-After header says it; 0 when err carries none. Each surface picks
// its own answer for 0.
func RetryAfterSeconds(err error) int {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return int((e.RetryAfter + time.Second - 1) / time.Second)
	}
	return 0
}
