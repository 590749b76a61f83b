package main

import (
	"context"
	"io"
)

// cmdDiag is printerd diag. Owner: the drivers work.
func cmdDiag(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("diag", stderr)
}
