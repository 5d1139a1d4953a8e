package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/spf13/cobra"
)

// TestKeyFieldsPatch checks the merge patch keys update sends for its
// flags: only the fields set, null to clear, and a rate limit or credits
// completed from the key when only a part is given.
func TestKeyFieldsPatch(t *testing.T) {
	amount := int64(500)
	current := &latchkey.Key{RateLimit: &latchkey.RateLimit{Limit: 100, WindowSeconds: 60},
		Credits: &latchkey.Credits{Remaining: 42, RefillAmount: &amount, RefillInterval: latchkey.RefillMonth}}
	for _, tt := range []struct {
		args []string
		want string // the patch as JSON, or the start of the error
	}{
		{[]string{"--name", "n"}, `{"name":"n"}`},
		{[]string{"--name", ""}, `{"name":""}`},
		{[]string{"--owner-email", "", "--owner-name", "Acme"}, `{"owner_email":null,"owner_name":"Acme"}`},
		{[]string{"--enabled=false"}, `{"enabled":false}`},
		{[]string{"--expires", "2030-01-01T00:00:00Z"}, `{"expires_at":"2030-01-01T00:00:00Z"}`},
		{[]string{"--no-expires"}, `{"expires_at":null}`},
		{[]string{"--permission", "a", "--permission", "b"}, `{"permissions":["a","b"]}`},
		{[]string{"--permissions", ""}, `{"permissions":[]}`},
		{[]string{"--rate-limit", "5"}, `{"rate_limit":{"limit":5,"window_seconds":60}}`},
		{[]string{"--rate-window", "1h"}, `{"rate_limit":{"limit":100,"window_seconds":3600}}`},
		{[]string{"--rate-limit", "0"}, `{"rate_limit":null}`},
		{[]string{"--no-rate-limit"}, `{"rate_limit":null}`},
		{[]string{"--max-devices", "3"}, `{"max_devices":3}`},
		{[]string{"--credits", "7"}, `{"credits":{"refill_amount":500,"refill_interval":"month","remaining":7}}`},
		{[]string{"--refill-interval", "day"}, `{"credits":{"refill_amount":500,"refill_interval":"day","remaining":42}}`},
		{[]string{"--no-refill"}, `{"credits":{"remaining":42}}`},
		{[]string{"--no-credits"}, `{"credits":null}`},
		{[]string{"--meta", `{"plan":"pro"}`}, `{"meta":{"plan":"pro"}}`},
		{[]string{"--meta", `"pro"`}, "--meta"},
		{[]string{"--max-devices", "-1"}, "--max-devices"},
		{[]string{"--rate-window", "1500ms"}, "--rate-window"},
		{nil, "nothing to update"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var k keyFields
			cmd := &cobra.Command{Use: "update"}
			k.bind(cmd, &apiFlags{}, true)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			p, err := k.patch(func() (*latchkey.Key, error) { return current, nil })
			if err != nil {
				if tt.want[0] == '{' || !strings.Contains(err.Error(), tt.want) || !isUsage(err) {
					t.Fatalf("got error %v, want %s", err, tt.want)
				}
				return
			}
			b, _ := json.Marshal(p)
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
		})
	}
}
