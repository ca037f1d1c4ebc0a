// Package logging configures log/slog for a service: one logger, text or
// JSON, with the service name on every line.
package logging

import (
	"io"
	"log/slog"
	"os"
)

// New returns a logger writing to stderr at the given level ("debug",
// "info", "warn", "error") in the given format ("text" or "json"), and makes
// it slog's default so libraries that log through slog agree.
func New(service, level, format string) *slog.Logger {
	return NewTo(os.Stderr, service, level, format)
}

// NewTo is New writing to w.
func NewTo(w io.Writer, service, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	logger := slog.New(h).With("service", service)
	slog.SetDefault(logger)
	return logger
}
