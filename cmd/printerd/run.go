package main

import (
	"context"
	"io"
)

// cmdRun is printerd run. Owner: the queue work.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("run", stderr)
}
