package binary

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// Call sends one request to a running server: body (nil for none) as JSON,
// bearer ("" for none) as the Authorization, and decodes a JSON answer into
// out (nil to drop it). The status is 0 when no whole answer came back (the
// server was killed mid-request, say), with the error; a status with an
// error means the answer was not the JSON out wants.
func Call(client *http.Client, method, url, bearer string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}
