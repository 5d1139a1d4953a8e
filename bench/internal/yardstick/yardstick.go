// Package yardstick is the handler of bench/baseline: the least a verify
// endpoint can do over net/http. It decodes the same body as
// POST /v1/keys/verify with encoding/json, hashes the key with SHA-256, does
// one map lookup and encodes a small JSON answer. Nothing else: no
// authentication, checksum, rate limit, usage counting or metrics.
package yardstick

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Handler answers POST verify requests from a fixed set of keys.
type Handler struct {
	keys map[[32]byte]int64 // SHA-256 of a secret → key id
}

// New returns a handler that knows the secrets, with ids 1, 2, …
func New(secrets []string) *Handler {
	h := &Handler{keys: make(map[[32]byte]int64, len(secrets))}
	for i, s := range secrets {
		h.keys[sha256.Sum256([]byte(s))] = int64(i + 1)
	}
	return h
}

// Len is how many secrets the handler knows.
func (h *Handler) Len() int { return len(h.keys) }

// ReadSecrets reads one secret a line; blank lines are skipped.
func ReadSecrets(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

type request struct {
	Key         string   `json:"key"`
	Permissions []string `json:"permissions"`
	DeviceID    string   `json:"device_id"`
	Cost        *int64   `json:"cost"`
}

type response struct {
	Valid bool   `json:"valid"`
	Code  string `json:"code"`
	KeyID int64  `json:"key_id,omitempty"`
}

// ServeHTTP is the whole yardstick.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req request
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	res := response{Code: "NOT_FOUND"}
	if id, ok := h.keys[sha256.Sum256([]byte(req.Key))]; ok {
		res = response{Valid: true, Code: "VALID", KeyID: id}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&res)
}
