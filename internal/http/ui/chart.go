// The usage chart of a key's page: verifications per hour over the last
// day, stacked by outcome, drawn as SVG on the server (no script), with a
// table of the totals beside it for screen readers and exact numbers.

package ui

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/latchkey/latchkey"
)

// codeTotal is one outcome's count over the chart's range.
type codeTotal struct {
	Code  string
	Class string
	Count int64
}

// Chart geometry, in SVG user units (the SVG scales to its box).
const (
	chartW, chartH = 720, 180
	chartPad       = 28 // room for the axis labels
	chartRight     = 24 // room for the last time label
)

// codeClass is the CSS class that colours an outcome: valid green, limits
// amber, refusals red, unknown keys grey.
func codeClass(code string) string {
	switch latchkey.VerifyCode(code) {
	case latchkey.CodeValid:
		return "c-valid"
	case latchkey.CodeRateLimited, latchkey.CodeUsageExceeded, latchkey.CodeDeviceLimitExceeded:
		return "c-limit"
	case latchkey.CodeNotFound:
		return "c-unknown"
	}
	return "c-refused"
}

// usageChart draws the buckets as stacked bars and returns the SVG and the
// totals by outcome (in the model's check order, valid last).
func usageChart(buckets []*latchkey.UsageBucket) (template.HTML, []codeTotal) {
	totals := map[string]int64{}
	var max int64
	for _, b := range buckets {
		for c, n := range b.Counts {
			totals[c] += n
		}
		if b.Total > max {
			max = b.Total
		}
	}
	var out []codeTotal
	for _, c := range latchkey.VerifyCodes {
		if n := totals[string(c)]; n > 0 {
			out = append(out, codeTotal{Code: string(c), Class: codeClass(string(c)), Count: n})
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title"><title id="chart-title">Verifications per hour, last 24 hours</title>`, chartW, chartH)
	plotH := float64(chartH - chartPad)
	fmt.Fprintf(&sb, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartPad, plotH, chartW-chartRight, plotH)
	if max == 0 {
		fmt.Fprintf(&sb, `<text class="empty" x="%d" y="%.1f" text-anchor="middle">No verifications in the last 24 hours</text>`, (chartW+chartPad)/2, plotH/2)
	} else {
		fmt.Fprintf(&sb, `<text class="label" x="%d" y="12" text-anchor="end">%d</text>`, chartPad-4, max)
		fmt.Fprintf(&sb, `<text class="label" x="%d" y="%.1f" text-anchor="end">0</text>`, chartPad-4, plotH)
	}
	n := len(buckets)
	if n > 0 {
		slot := float64(chartW-chartPad-chartRight) / float64(n)
		barW := slot * 0.8
		for i, b := range buckets {
			x := float64(chartPad) + float64(i)*slot + (slot-barW)/2
			y := plotH
			for _, c := range latchkey.VerifyCodes {
				cnt := b.Counts[string(c)]
				if cnt == 0 || max == 0 {
					continue
				}
				h := plotH * float64(cnt) / float64(max) * 0.92
				y -= h
				fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %d</title></rect>`,
					codeClass(string(c)), x, y, barW, h, b.Start.UTC().Format("15:04"), html.EscapeString(string(c)), cnt)
			}
			if i%6 == 0 || i == n-1 {
				fmt.Fprintf(&sb, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+barW/2, chartH-8, b.Start.UTC().Format("15:04"))
			}
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()), out
}
