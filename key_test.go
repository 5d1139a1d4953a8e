package latchkey

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestKeyUpdateApply checks the merge rules the store and the test doubles
// share: only set fields change, a revoke keeps its first stamp, un-revoking
// clears the reason, new credits start at now, meta is compacted.
func TestKeyUpdateApply(t *testing.T) {
	t0 := time.Date(2027, 1, 2, 3, 4, 5, 6789, time.UTC)
	earlier := t0.Add(-time.Hour)
	reason := "leaked"
	k := &Key{Name: "a", Description: "d", Enabled: true, MaxDevices: 3, RevokedAt: &earlier, RevokedReason: &reason}

	name, revoked := "b", true
	(&KeyUpdate{Name: &name, Revoked: &revoked, Meta: Some(json.RawMessage(`{ "a" : 1 }`)),
		Credits: Some(Credits{Remaining: 5}), ExpiresAt: Some(t0.In(time.FixedZone("x", 3600)))}).Apply(k, t0)
	if k.Name != "b" || k.Description != "d" || !k.Enabled || k.MaxDevices != 3 {
		t.Errorf("unset fields changed or set ones not applied: %+v", k)
	}
	if !k.RevokedAt.Equal(earlier) || *k.RevokedReason != "leaked" {
		t.Errorf("revoking a revoked key: got %v %v, want the first stamp and reason kept", k.RevokedAt, *k.RevokedReason)
	}
	if string(k.Meta) != `{"a":1}` {
		t.Errorf("meta: got %s, want it compacted", k.Meta)
	}
	if k.Credits == nil || k.Credits.Remaining != 5 || !k.Credits.RefilledAt.Equal(t0) {
		t.Errorf("credits: got %+v, want 5 refilled at now", k.Credits)
	}
	if k.ExpiresAt.Location() != time.UTC || k.ExpiresAt.Nanosecond() != 6000 {
		t.Errorf("expires_at: got %v, want UTC to the microsecond", k.ExpiresAt)
	}

	revoked = false
	(&KeyUpdate{Revoked: &revoked}).Apply(k, t0)
	if k.RevokedAt != nil || k.RevokedReason != nil {
		t.Errorf("un-revoke: got %v %v, want both cleared", k.RevokedAt, k.RevokedReason)
	}
	revoked = true
	(&KeyUpdate{Revoked: &revoked, RevokedReason: Some("")}).Apply(k, t0)
	if !k.RevokedAt.Equal(t0) || k.RevokedReason != nil {
		t.Errorf("revoke with an empty reason: got %v %v, want stamped now and no reason", k.RevokedAt, k.RevokedReason)
	}
	(&KeyUpdate{Meta: Some(json.RawMessage(nil)), Credits: Null[Credits]()}).Apply(k, t0)
	if string(k.Meta) != "{}" || k.Credits != nil {
		t.Errorf("clearing: got meta %s credits %+v, want {} and none", k.Meta, k.Credits)
	}
}

// TestLastRequest: a key's recorded last request is "METHOD /path", cut to
// MaxRequestLen bytes of valid UTF-8, and nothing without a method.
func TestLastRequest(t *testing.T) {
	if got := LastRequest("GET", "/orders/42"); got != "GET /orders/42" {
		t.Errorf("got %q", got)
	}
	if got := LastRequest("", "/x"); got != "" {
		t.Errorf("no method: got %q, want none", got)
	}
	long := LastRequest("GET", "/"+strings.Repeat("é", MaxRequestLen))
	if len(long) > MaxRequestLen+2 || !utf8.ValidString(long) {
		t.Errorf("a long path: %d bytes, valid UTF-8 %v", len(long), utf8.ValidString(long))
	}
}
