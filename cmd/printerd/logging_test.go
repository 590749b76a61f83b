package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// TestLogFormat: logs are text on a terminal and JSON elsewhere unless
// --log-format says; a bad format is refused naming the setting.
func TestLogFormat(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v (needs /dev/ptmx and devpts)", err)
	}
	defer master.Close()
	defer tty.Close()
	for _, tc := range []struct {
		name   string
		w      io.Writer
		format string
		json   bool
	}{
		{"terminal", tty, "", false},
		{"pipe or file", &bytes.Buffer{}, "", true},
		{"json on a terminal", tty, "json", true},
		{"text to a file", &bytes.Buffer{}, "text", false},
	} {
		_, isJSON := newLogHandler(tc.w, tc.format, slog.LevelInfo).(*slog.JSONHandler)
		if isJSON != tc.json {
			t.Errorf("%s: JSON %v, want %v", tc.name, isJSON, tc.json)
		}
	}
	code, _, errs := runCLI(context.Background(), "run", "--log-format", "xml", "--state", t.TempDir(), "--printer", "sim://x", "--approver-keys", t.TempDir(), "--issuer-key", "/dev/null")
	if code != exitUsage || !strings.Contains(errs, "log-format") {
		t.Errorf("--log-format xml: exit %d, %q", code, errs)
	}
}
