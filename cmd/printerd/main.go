// Command printerd prints municipal identity cards: it is the daemon
// (printerd run), the one-process demo, and the operator commands for
// technicians and clerks. See ../shared/CLI.md for the interface.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit statuses, as CLI.md fixes them.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand. run gets the arguments after the command name
// and returns the exit status.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand. Each lives in its own file.
var commands = map[string]command{
	"demo":     {"the main job on embedded defaults: NATS, a simulated printer, sample jobs, card images", cmdDemo},
	"run":      {"the daemon: approved jobs from JetStream to printed cards", cmdRun},
	"sim":      {"a simulated printer as its own process (TCP, pty or USB/IP)", cmdSim},
	"render":   {"lay out a card without a printer: front.png, back.png, proof.pdf", cmdRender},
	"encode":   {"write the printer command stream for a card to standard output", cmdEncode},
	"keys":     {"make issuer or approver key pairs", cmdKeys},
	"verify":   {"decode and verify a card's signed barcode", cmdVerify},
	"submit":   {"sign and publish a job as an enrollment system does", cmdSubmit},
	"diag":     {"technician diagnostics on a printer", cmdDiag},
	"jobs":     {"clerk job control: list, status, held, release, cancel, history", cmdJobs},
	"users":    {"NATS users of an office: add (nkey, role, site), list, server config", cmdUsers},
	"audit":    {"export a site's audit chains; verify an export offline", cmdAudit},
	"printers": {"the printers a daemon holds: state, ribbon, current job", cmdPrinters},
	"console":  {"the office console for clerks and technicians (HTTPS), and its users", cmdConsole},

	"version": {"print the version, commit and Go version", cmdVersion},
}

func main() {
	if err := noCoreDumps(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(exitFail)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the subcommand named by args[0].
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "printerd: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: printerd <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-7s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nprinterd <command> --help shows a command's flags.")
}
