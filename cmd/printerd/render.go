package main

import (
	"context"
	"io"
)

// cmdRender is printerd render. Owner: the layout work.
func cmdRender(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("render", stderr)
}
