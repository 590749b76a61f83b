package main

import (
	"context"
	"io"
)

// cmdSim is printerd sim. Owner: the drivers work.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("sim", stderr)
}
