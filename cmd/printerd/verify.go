package main

import (
	"context"
	"io"
)

// cmdVerify is printerd verify. Owner: the layout work.
func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("verify", stderr)
}
