package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/service"
)

// cmdJobs is printerd jobs: clerk job control through a running daemon's
// printerd.jobs.<site>.<verb> service.
func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, `usage: printerd jobs VERB [ARG] [--nats URL] [--site S] [--json]

verbs:
  list                          queued, printing and held jobs, per pool (no personal data)
  status JOB_ID                 a job's ledger state
  held                          jobs waiting for a clerk
  release JOB_ID --reason R     print a held job again; R: printer-fixed, spoiled-destroyed
                                (a spoiled card's job: spoiled-destroyed, once the card is destroyed)
  cancel JOB_ID --reason R      end a held or queued job (its data is erased);
                                R: withdrawn, duplicate, data-error, spoiled-destroyed, other
  history CARD_NUMBER           issuance history of a card number (audit, no personal data)

The operator recorded is the NATS user of --nats-nkey (printerd users add --role clerk),
as the server attests it; there is no operator flag.`)
	}
	if status, done := needVerb(args, usage); done {
		return status
	}
	verb := args[0]
	fs := flag.NewFlagSet("printerd jobs "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nc natsClient
	nc.addFlags(fs)
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	reason := fs.String("reason", "", "reason code (required for release and cancel)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the daemon")
	pos, status, done := parseArgs(fs, args[1:])
	if done {
		return status
	}
	need := map[string]int{service.VerbList: 0, service.VerbPrinters: 0, service.VerbStatus: 1, service.VerbHeld: 0, service.VerbRelease: 1, service.VerbCancel: 1, service.VerbHistory: 1}
	n, ok := need[verb]
	if !ok {
		fmt.Fprintf(stderr, "printerd jobs: unknown verb %q\n", verb)
		usage()
		return exitUsage
	}
	if len(pos) != n {
		fmt.Fprintf(stderr, "printerd jobs %s: want %d argument(s), have %d\n", verb, n, len(pos))
		return exitUsage
	}
	codes := map[string][]string{service.VerbRelease: queue.ReleaseReasons, service.VerbCancel: queue.CancelReasons}
	if cs, ok := codes[verb]; ok && !slices.Contains(cs, *reason) {
		fmt.Fprintf(stderr, "printerd jobs %s: --reason is required, one of %s\n", verb, strings.Join(cs, ", "))
		return exitUsage
	}
	conn, err := nc.Connect("printerd jobs")
	if err != nil {
		fmt.Fprintf(stderr, "printerd jobs: %v\n", err)
		return exitFail
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := service.NewClient(conn, *site)
	var res any
	switch verb {
	case service.VerbStatus:
		res, err = c.Status(ctx, pos[0])
	case service.VerbHeld:
		res, err = c.Held(ctx)
	case service.VerbRelease:
		res, err = c.Release(ctx, pos[0], *reason)
	case service.VerbCancel:
		res, err = c.Cancel(ctx, pos[0], *reason)
	case service.VerbHistory:
		res, err = c.History(ctx, pos[0])
	case service.VerbList:
		res, err = c.List(ctx)
	case service.VerbPrinters:
		res, err = c.Printers(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd jobs %s: %v\n", verb, err)
		return exitFail
	}
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			fmt.Fprintf(stderr, "printerd jobs %s: %v\n", verb, err)
			return exitFail
		}
		stdout.Write(append(b, '\n'))
		return exitOK
	}
	if err := printJobsResult(stdout, res); err != nil {
		fmt.Fprintf(stderr, "printerd jobs %s: %v\n", verb, err)
		return exitFail
	}
	return exitOK
}

// printJobsResult prints a result for people.
func printJobsResult(w io.Writer, res any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch res := res.(type) {
	case queue.Entry:
		e := res
		fmt.Fprintf(tw, "state\t%s\n", e.State)
		for _, kv := range [][2]string{{"card", e.CardNumber}, {"printer", e.Printer}, {"reason", e.Reason}} {
			if kv[1] != "" {
				fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
			}
		}
		if e.Issue > 0 {
			fmt.Fprintf(tw, "issue\t%d\n", e.Issue)
		}
		if e.Releases > 0 {
			fmt.Fprintf(tw, "releases\t%d\n", e.Releases)
		}
		if e.Spoiled {
			fmt.Fprintf(tw, "spoiled\tyes: destroy the card from the reject tray, then release with --reason spoiled-destroyed\n")
		}
		for _, sn := range []struct {
			name string
			s    *drivers.Snapshot
		}{{"before feed", e.Pre}, {"reconciled", e.Post}} {
			if sn.s != nil {
				fmt.Fprintf(tw, "%s\tserial %s, printed %d, rejected %d, card %s\n", sn.name, sn.s.Serial, sn.s.Printed, sn.s.Rejected, sn.s.Card)
			}
		}
		fmt.Fprintf(tw, "updated\t%s\n", e.Updated.Format(time.RFC3339))
	case []queue.HeldJob:
		hs := res
		if len(hs) == 0 {
			fmt.Fprintln(tw, "no held jobs")
			return nil
		}
		fmt.Fprintln(tw, "JOB\tCARD\tISSUE\tPRINTER\tREASON\tSINCE\tEXPIRES")
		for _, h := range hs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", h.JobID, h.CardNumber, h.Issue, h.Printer, h.Reason,
				h.Since.Format(time.RFC3339), h.Expires.Format(time.RFC3339))
		}
	case []queue.AuditRecord:
		rs := res
		if len(rs) == 0 {
			fmt.Fprintln(tw, "no records")
			return nil
		}
		fmt.Fprintln(tw, "SEQ\tAT\tACTION\tJOB\tISSUE\tPRINTER\tOPERATOR\tREASON")
		for _, r := range rs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Seq, r.At.Format(time.RFC3339), r.Action, r.JobID, r.Issue,
				r.Printer, r.Operator, r.Reason)
		}
	case queue.JobList:
		printJobList(tw, res)
	case []queue.PrinterStatus:
		printPrinters(tw, res)
	default:
		return fmt.Errorf("no text form for %T", res)
	}
	return nil
}

// printJobList prints a listing: per pool, then each job in the queue or a
// printer, then the held jobs.
func printJobList(tw *tabwriter.Writer, l queue.JobList) {
	if len(l.Pools) == 0 {
		fmt.Fprintln(tw, "no queued, printing or held jobs")
		return
	}
	fmt.Fprintln(tw, "POOL	QUEUED	PRINTING	HELD	OLDEST")
	for _, p := range l.Pools {
		oldest := "-"
		if !p.Oldest.IsZero() {
			oldest = p.Oldest.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s	%d	%d	%d	%s\n", p.Pool, p.Queued, p.Printing, p.Held, oldest)
	}
	if len(l.Jobs) > 0 {
		fmt.Fprintln(tw, "\nJOB\tPOOL\tSTATE\tCARD\tPRINTER\tSINCE")
		for _, j := range l.Jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, j.Pool, j.State, dash(j.CardNumber), dash(j.Printer), j.Since.Format(time.RFC3339))
		}
	}
	if len(l.Held) > 0 {
		fmt.Fprintln(tw, "\nHELD JOB\tPOOL\tCARD\tREASON\tSINCE")
		for _, h := range l.Held {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.JobID, dash(h.Pool), h.CardNumber, h.Reason, h.Since.Format(time.RFC3339))
		}
	}
}

// printPrinters prints the printers a daemon holds.
func printPrinters(tw *tabwriter.Writer, ps []queue.PrinterStatus) {
	if len(ps) == 0 {
		fmt.Fprintln(tw, "no printers")
		return
	}
	fmt.Fprintln(tw, "PRINTER\tPOOL\tSTATE\tRIBBON\tLEFT\tJOB\tMODEL\tSERIAL")
	for _, p := range ps {
		left := "?"
		if p.RibbonLeft >= 0 {
			left = fmt.Sprint(p.RibbonLeft)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Printer, p.Pool, printerState(p), dash(string(p.Ribbon)), left,
			dash(p.Printing), dash(p.Model), dash(p.Serial))
	}
}

// printerState is one word (and the problems) for a printer's state.
func printerState(p queue.PrinterStatus) string {
	switch {
	case p.Paused:
		return "paused"
	case p.Printing != "":
		return "printing"
	case p.Ready:
		return "ready"
	case len(p.Problems) > 0:
		s := make([]string, len(p.Problems))
		for i, c := range p.Problems {
			s[i] = c.String()
		}
		return "not-ready(" + strings.Join(s, ",") + ")"
	case p.Error != "":
		return "offline"
	}
	return "not-ready"
}

// dash is s, or "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cmdPrinters is printerd printers: the printers a daemon holds, through
// the printerd.jobs.<site>.printers verb.
func cmdPrinters(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintln(stdout, `usage: printerd printers [--nats URL] [--site S] [--json]

Lists the printers a running daemon holds: state (ready, printing, paused,
not-ready with its problems, offline), ribbon, cards the ribbon has left,
the job in the printer, model and serial number. No personal data. It is a
verb of the jobs service (printerd.jobs.<site>.printers): a clerk or the
console may use it; with several daemons for a site, the first answers.

example:
  printerd printers --nats nats://127.0.0.1:4222`)
			return exitOK
		}
	}
	return cmdJobs(ctx, append([]string{service.VerbPrinters}, args...), stdout, stderr)
}
