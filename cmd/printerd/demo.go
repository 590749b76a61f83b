package main

import (
	"context"
	"io"
)

// cmdDemo is printerd demo. Owner: the queue work.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("demo", stderr)
}
