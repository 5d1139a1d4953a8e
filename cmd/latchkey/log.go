package main

import (
	"log"
	"log/slog"
	"net/url"
)

// slogErrorLog routes net/http's own error log through slog.
func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelWarn)
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }
