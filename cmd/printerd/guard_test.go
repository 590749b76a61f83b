package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestPanicWithheld: a panic inside a command (here one carrying a
// person's name, as a library's index error on a character would) exits 1
// with a message naming the command, never the panic's value.
func TestPanicWithheld(t *testing.T) {
	commands["test-panic"] = command{"panics", func(context.Context, []string, io.Writer, io.Writer) int {
		panic("glyph of Zofia Testperson 1990-02-28")
	}}
	defer delete(commands, "test-panic")
	code, out, errs := runCLI(context.Background(), "test-panic")
	if code != exitFail || strings.Contains(out+errs, "Zofia") || strings.Contains(out+errs, "1990") || !strings.Contains(errs, "printerd test-panic: internal error") {
		t.Errorf("panic in a command: exit %d, %q %q; want 1 and no personal data", code, out, errs)
	}
}

// TestHelpAndUsage: help goes to standard output (printerd --help | less
// shows it), "printerd help CMD" is CMD's help, and a missing required
// flag is named, without the whole flag list.
func TestHelpAndUsage(t *testing.T) {
	ctx := context.Background()
	code, out, errs := runCLI(ctx, "--help")
	if code != exitOK || !strings.Contains(out, "commands:") || errs != "" {
		t.Errorf("printerd --help: exit %d, stdout %q, stderr %q; want the usage on stdout", code, out, errs)
	}
	code, out, _ = runCLI(ctx, "help", "run")
	if code != exitOK || !strings.Contains(out, "usage: printerd run") || !strings.Contains(out, "-issuer-key") || !strings.Contains(out, "examples:") {
		t.Errorf("printerd help run: exit %d, %q; want run's own help with examples", code, out)
	}
	for _, c := range []string{"demo", "run", "sim", "render", "encode", "keys", "verify", "submit", "diag", "jobs", "printers", "version"} {
		code, out, errs := runCLI(ctx, c, "--help")
		if code != exitOK || !strings.HasPrefix(out, "usage: printerd "+c) || errs != "" || !strings.Contains(out, "examples:") {
			t.Errorf("printerd %s --help: exit %d, stdout starts %q, stderr %q; want usage and examples on stdout", c, code, firstLine(out), errs)
		}
	}
	code, _, errs = runCLI(ctx, "submit", "job.json")
	if code != exitUsage || !strings.Contains(errs, "--approver-key is required") || strings.Contains(errs, "nats-ca") {
		t.Errorf("submit without --approver-key: exit %d, %q; want the flag named, not the whole usage", code, errs)
	}
	if code, _, errs := runCLI(ctx); code != exitUsage || !strings.Contains(errs, "commands:") {
		t.Errorf("printerd alone: exit %d, %q; want usage on stderr, exit 2", code, errs)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
