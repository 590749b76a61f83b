package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cityid/printerd/internal/buildinfo"
)

// cmdVersion is printerd version: the release, the commit and the Go
// version the binary was built with (set by scripts/package.sh).
func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print a JSON object {version, commit, go}")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: printerd version [--json]\n\nPrints the version, the git commit and the Go version printerd was built with.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "printerd version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	in := buildinfo.Get()
	if *asJSON {
		b, _ := json.Marshal(in)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintf(stdout, "printerd %s (commit %s, %s)\n", in.Version, in.Commit, in.GoVersion)
	return exitOK
}
