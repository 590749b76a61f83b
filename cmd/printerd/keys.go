package main

import (
	"context"
	"io"
)

// cmdKeys is printerd keys. Owner: the layout work.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("keys", stderr)
}
