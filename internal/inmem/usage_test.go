// Tests of the usage code index.

package inmem

import (
	"testing"

	"github.com/latchkey/latchkey"
)

// TestCodeIndex checks that usage counts keep every verification code
// apart: each code of latchkey.VerifyCodes has its own index, and the
// index maps back to the code.
func TestCodeIndex(t *testing.T) {
	if len(latchkey.VerifyCodes) != numCodes {
		t.Fatalf("len(latchkey.VerifyCodes) = %d, want numCodes = %d", len(latchkey.VerifyCodes), numCodes)
	}
	for want, c := range latchkey.VerifyCodes {
		if got := codeIndex(c); got != want {
			t.Errorf("codeIndex(%s) = %d, want %d", c, got, want)
		}
		if got := codeByIndex[want]; got != c {
			t.Errorf("codeByIndex[%d] = %s, want %s", want, got, c)
		}
	}
}
