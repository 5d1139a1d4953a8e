package auth_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey"

// TestLayout keeps the shape ARCHITECTURE.md describes: the seed surfaces
// do not import the native API, the admin UI imports only the root, auth
// and httpx, and the two leaf packages they share with the API (auth,
// httpx) import only the root package and the standard library.
// Test files do not count: their imports are not in .Imports.
func TestLayout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	has := func(pkg, imp string) bool {
		for _, i := range imports[pkg] {
			if i == imp {
				return true
			}
		}
		return false
	}

	compat := module + "/internal/http/compat"
	if _, ok := imports[compat]; !ok {
		t.Fatalf("go list did not list %s:\n%s", compat, out)
	}
	if has(compat, module+"/internal/http") {
		t.Errorf("%s imports %s/internal/http; it must reach the caller through internal/http/auth and the helpers through internal/http/httpx", compat, module)
	}

	// The admin UI works only through the root services and auth: it
	// imports no store, no verifier and neither the native API nor compat.
	ui := module + "/internal/http/ui"
	if _, ok := imports[ui]; !ok {
		t.Errorf("go list did not list %s", ui)
	}
	for _, imp := range imports[ui] {
		first, _, _ := strings.Cut(imp, "/")
		allowed := !strings.Contains(first, ".") || imp == module || imp == module+"/internal/http/auth" || imp == module+"/internal/http/httpx"
		if !allowed {
			t.Errorf("%s imports %s; it may import only the root package, auth, httpx and the standard library", ui, imp)
		}
	}

	for _, leaf := range []string{module + "/internal/http/auth", module + "/internal/http/httpx"} {
		imps, ok := imports[leaf]
		if !ok {
			t.Errorf("go list did not list %s", leaf)
			continue
		}
		for _, imp := range imps {
			first, _, _ := strings.Cut(imp, "/")
			stdlib := !strings.Contains(first, ".")
			if imp != module && !stdlib {
				t.Errorf("%s imports %s; it may import only the root package and the standard library", leaf, imp)
			}
		}
	}
}
