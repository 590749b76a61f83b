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
	"runtime"
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
	"keys":     {"make issuer or approver key pairs; show, rotate and destroy the daemon's epoch keys", cmdKeys},
	"verify":   {"decode and verify a card's signed barcode", cmdVerify},
	"submit":   {"seal, sign and publish a plain card file as an enrollment system does", cmdSubmit},
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

// dispatch runs the subcommand named by args[0]. Help goes to standard
// output ("printerd --help | less"); "printerd help CMD [VERB]" is
// "printerd CMD [VERB] --help"; bad usage goes to standard error.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		if wantsHelp(args[1:2]) {
			fmt.Fprintln(stdout, "usage: printerd help [COMMAND [VERB]]\n\nShows a command's help on standard output, as printerd COMMAND [VERB] --help does.")
			return exitOK
		}
		if _, ok := commands[args[1]]; !ok || args[1] == "help" {
			fmt.Fprintf(stderr, "printerd help: unknown command %q\n", args[1])
			usage(stderr)
			return exitUsage
		}
		return dispatch(ctx, append(append([]string{}, args[1:]...), "--help"), stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "printerd: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	if wantsHelp(args[1:]) {
		// A command prints its help where it prints usage errors: here,
		// standard output.
		code := runGuarded(ctx, args[0], c, args[1:], stdout, stdout)
		if ex := commandExamples[args[0]]; code == exitOK && len(ex) > 0 {
			fmt.Fprintln(stdout, "\nexamples:")
			for _, e := range ex {
				fmt.Fprintln(stdout, "  "+e)
			}
		}
		return code
	}
	return runGuarded(ctx, args[0], c, args[1:], stdout, stderr)
}

// wantsHelp reports whether args ask for help (-h, -help or --help
// before a "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandExamples are shown after each command's help.
var commandExamples = map[string][]string{
	"demo":     {"printerd demo --out out", "printerd demo --jobs 50 --out /tmp/cards"},
	"run":      {"printerd run --state state --issuer-key keys/issuer.key --approver-keys approvers --printer 'sim://desk1?out=cards&speed=0'", "printerd run --config /etc/printerd/printerd.json"},
	"sim":      {"printerd sim --listen tcp://127.0.0.1:9100 --out cards", "printerd sim --pty --ribbon ko"},
	"render":   {"printerd render testdata/jobs/issue-polish.json --issuer-key keys/issuer.key --out proof"},
	"encode":   {"printerd encode testdata/jobs/issue-polish.json --issuer-key keys/issuer.key --ribbon ko > card.prn"},
	"keys":     {"printerd keys new --kind issuer --out keys", "printerd keys id keys/issuer.pub"},
	"verify":   {"printerd verify --image cards/JOB-back.png --keys keys/issuer.pub", "printerd verify --text \"$(cat code.txt)\" --keys keys/issuer.pub --json"},
	"submit":   {"printerd submit testdata/jobs/issue-polish.json --approver-key keys/approver.key"},
	"diag":     {"printerd diag status desk1", "printerd diag status --device tcp://127.0.0.1:9100", "printerd diag list"},
	"jobs":     {"printerd jobs list", "printerd jobs held", "printerd jobs cancel JOB_ID --reason withdrawn", "printerd jobs history C-000777-1"},
	"printers": {"printerd printers", "printerd printers --json"},
	"version":  {"printerd version --json"},
}

// usage is printerd's own help: what it is, its commands, where to read
// more, examples.
func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: printerd <command> [flags]

printerd prints municipal identity cards: it takes approved card jobs from
NATS JetStream, lays out each card with a signed barcode and prints it on an
attached card printer exactly once, keeping no personal data once the card
is out.

commands:`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, `
"printerd help COMMAND" or "printerd COMMAND --help" shows a command's flags
and examples; "man printerd-COMMAND" where the Debian package is installed.

examples:
  printerd demo --out out
  printerd run --config /etc/printerd/printerd.json
  printerd jobs list
  printerd help run`)
}

// runGuarded runs a command and turns a panic into exit status 1 with a
// message naming the command only: a panic's value and stack may hold a
// person's name or birth date (a character a library choked on), and
// crash output must never carry personal data.
func runGuarded(ctx context.Context, name string, c command, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "printerd %s: internal error (%s); details withheld because they may hold personal data; please report it with the command line, not the input\n", name, panicKind(p))
			code = exitFail
		}
	}()
	return c.run(ctx, args, stdout, stderr)
}

// panicKind names a panic's kind (runtime error or not) without its text.
func panicKind(p any) string {
	if _, ok := p.(runtime.Error); ok {
		return "runtime error"
	}
	return "panic"
}
