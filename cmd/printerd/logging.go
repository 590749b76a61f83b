package main

import (
	"io"
	"log/slog"
	"os"
)

// newLogHandler returns the handler of a command's logs on w: format
// "text" or "json", or "" for text on a terminal and JSON otherwise
// (journald, a file, a pipe to a log shipper). Every record of the
// process, nats-server's included (queue/embedded), goes through it.
func newLogHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" || (format == "" && isTerminal(w)) {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
