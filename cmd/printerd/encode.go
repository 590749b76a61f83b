package main

import (
	"context"
	"io"
)

// cmdEncode is printerd encode. Owner: the drivers work.
func cmdEncode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("encode", stderr)
}
