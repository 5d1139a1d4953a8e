package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
)

// emit prints an answer as --output asks: JSON as the server sent it, the
// ids one per line, or a table.
func (f *apiFlags) emit(w io.Writer, v any, ids []string, table func(w io.Writer)) error {
	switch f.output {
	case "json":
		return printJSON(w, v)
	case "id":
		for _, id := range ids {
			fmt.Fprintln(w, id)
		}
		return nil
	}
	table(w)
	return nil
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printTable prints a header and rows aligned in columns.
func printTable(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// itoa formats an id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// orDash returns *s, or "-" when it is nil or empty.
func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// dash returns s, or "-" when it is empty.
func dash(s string) string { return orDash(&s) }

// timeOr formats a time as RFC 3339, or returns none when it is nil.
func timeOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// printKey prints every field of one key, one per line.
func printKey(w io.Writer, k *latchkey.Key) {
	rate := "unlimited"
	if k.RateLimit != nil {
		rate = fmt.Sprintf("%d per %s", k.RateLimit.Limit, formatWindow(k.RateLimit.Window()))
	}
	credits := "unlimited"
	if c := k.Credits; c != nil {
		credits = itoa(c.Remaining)
		if c.RefillAmount != nil {
			credits += fmt.Sprintf(" (refill to %d each %s)", *c.RefillAmount, c.RefillInterval)
		}
	}
	devices := "unlimited"
	if k.MaxDevices > 0 {
		devices = itoa(k.MaxDevices)
	}
	meta := "{}"
	var compact bytes.Buffer
	if json.Compact(&compact, k.Meta) == nil && compact.String() != "null" {
		meta = compact.String()
	}
	revoked := timeOr(k.RevokedAt, "-")
	if k.RevokedAt != nil && k.RevokedReason != nil && *k.RevokedReason != "" {
		revoked += " (" + *k.RevokedReason + ")"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range [][2]string{
		{"id", itoa(k.ID)}, {"account", itoa(k.AccountID)}, {"kind", string(k.Kind)},
		{"name", k.Name}, {"description", k.Description},
		{"owner email", orDash(k.OwnerEmail)}, {"owner name", orDash(k.OwnerName)}, {"owner phone", orDash(k.OwnerPhone)},
		{"status", string(k.Status)}, {"enabled", strconv.FormatBool(k.Enabled)},
		{"expires", timeOr(k.ExpiresAt, "never")}, {"revoked", revoked},
		{"permissions", strings.Join(k.Permissions, ",")},
		{"rate limit", rate}, {"max devices", devices}, {"credits", credits}, {"meta", meta},
		{"start", k.Start + "…"}, {"created", timeOr(&k.CreatedAt, "-")}, {"updated", timeOr(&k.UpdatedAt, "-")},
		{"last used", timeOr(k.LastUsedAt, "never")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
}

// formatWindow prints a rate-limit window in its largest whole unit: 1h,
// 15m, 90s.
func formatWindow(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
