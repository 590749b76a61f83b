package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseArgs parses args with fs, letting flags and positional arguments mix
// (package flag alone stops at the first positional argument). It returns
// the positional arguments; done is true when parsing ends the command
// (--help: exitOK, a bad flag: exitUsage), with the status to return.
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, status int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitUsage, true
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, exitOK, false
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError reports bad usage of a command: what is wrong (naming the
// flag or argument), and where the full help is, not the whole flag list.
func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "printerd %s: %s\nRun 'printerd help %s' for its flags and examples.\n", cmd, msg, cmd)
	return exitUsage
}

// needVerb handles a command that takes a verb (jobs, users, audit): no
// argument prints usage and is a usage error, -h or --help prints usage
// and succeeds. done is true when the command ends here, with status.
func needVerb(args []string, usage func()) (status int, done bool) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" {
		return 0, false
	}
	usage()
	if len(args) == 0 {
		return exitUsage, true
	}
	return exitOK, true
}
