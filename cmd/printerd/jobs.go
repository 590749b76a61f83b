package main

import (
	"context"
	"io"
)

// cmdJobs is printerd jobs. Owner: the queue work.
func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("jobs", stderr)
}
