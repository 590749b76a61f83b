package main

import (
	"context"
	"io"
)

// cmdSubmit is printerd submit. Owner: the queue work.
func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("submit", stderr)
}
