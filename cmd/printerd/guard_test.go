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
