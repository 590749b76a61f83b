package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/queue"
)

// jobsReply is the printerd.jobs service's reply envelope.
type jobsReply struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// jobsSubject is the request subject of a job-control verb.
func jobsSubject(site, verb string) string { return "printerd.jobs." + site + "." + verb }

// cmdJobs is printerd jobs: clerk job control through a running daemon's
// printerd.jobs.<site>.<verb> service.
func cmdJobs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, `usage: printerd jobs VERB [ARG] [--nats URL] [--site S] [--json]

verbs:
  status JOB_ID                 a job's ledger state
  held                          jobs waiting for a clerk
  release JOB_ID [--operator O] print a held job again
  cancel JOB_ID --reason R [--operator O]
                                end a held job (its data is deleted)
  history CARD_NUMBER           issuance history of a card number (audit, no personal data)`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	verb := args[0]
	fs := flag.NewFlagSet("printerd jobs "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nc natsClient
	nc.addFlags(fs)
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	operator := fs.String("operator", envOr("USER", ""), "clerk id recorded in the audit record")
	reason := fs.String("reason", "", "why the job is cancelled (required for cancel)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the daemon")
	pos, status, done := parseArgs(fs, args[1:])
	if done {
		return status
	}
	need := map[string]int{"status": 1, "held": 0, "release": 1, "cancel": 1, "history": 1}
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
	req := map[string]string{}
	switch verb {
	case "status":
		req["job_id"] = pos[0]
	case "release":
		req["job_id"], req["operator"] = pos[0], *operator
	case "cancel":
		if strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(stderr, "printerd jobs cancel: --reason is required")
			return exitUsage
		}
		req["job_id"], req["operator"], req["reason"] = pos[0], *operator, *reason
	case "history":
		req["card_number"] = pos[0]
	}
	if (verb == "release" || verb == "cancel") && *operator == "" {
		fmt.Fprintf(stderr, "printerd jobs %s: --operator is required (or set USER)\n", verb)
		return exitUsage
	}
	conn, err := nc.connect("printerd jobs")
	if err != nil {
		fmt.Fprintf(stderr, "printerd jobs: %v\n", err)
		return exitFail
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := jobsRequest(ctx, conn, *site, verb, req)
	if err != nil {
		fmt.Fprintf(stderr, "printerd jobs %s: %v\n", verb, err)
		return exitFail
	}
	if *asJSON {
		stdout.Write(append(res, '\n'))
		return exitOK
	}
	if err := printJobsResult(stdout, verb, res); err != nil {
		fmt.Fprintf(stderr, "printerd jobs %s: %v\n", verb, err)
		return exitFail
	}
	return exitOK
}

// jobsRequest sends one request to the jobs service and returns its result.
func jobsRequest(ctx context.Context, nc *nats.Conn, site, verb string, req any) (json.RawMessage, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	msg, err := nc.RequestWithContext(ctx, jobsSubject(site, verb), b)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("no printerd serves site %q (is printerd run up, and --site right?)", site)
	}
	if err != nil {
		return nil, err
	}
	var r jobsReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return nil, fmt.Errorf("bad reply from the daemon: %w", err)
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	return r.Result, nil
}

// printJobsResult prints a result for people.
func printJobsResult(w io.Writer, verb string, res json.RawMessage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch verb {
	case "status", "release", "cancel":
		var e queue.Entry
		if err := json.Unmarshal(res, &e); err != nil {
			return err
		}
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
		fmt.Fprintf(tw, "updated\t%s\n", e.Updated.Format(time.RFC3339))
	case "held":
		var hs []queue.HeldJob
		if err := json.Unmarshal(res, &hs); err != nil {
			return err
		}
		if len(hs) == 0 {
			fmt.Fprintln(tw, "no held jobs")
			return nil
		}
		fmt.Fprintln(tw, "JOB\tCARD\tISSUE\tPRINTER\tREASON\tSINCE\tEXPIRES")
		for _, h := range hs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", h.JobID, h.CardNumber, h.Issue, h.Printer, h.Reason,
				h.Since.Format(time.RFC3339), h.Expires.Format(time.RFC3339))
		}
	case "history":
		var rs []queue.AuditRecord
		if err := json.Unmarshal(res, &rs); err != nil {
			return err
		}
		if len(rs) == 0 {
			fmt.Fprintln(tw, "no records")
			return nil
		}
		fmt.Fprintln(tw, "SEQ\tAT\tACTION\tJOB\tISSUE\tPRINTER\tOPERATOR\tREASON")
		for _, r := range rs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Seq, r.At.Format(time.RFC3339), r.Action, r.JobID, r.Issue,
				r.Printer, r.Operator, r.Reason)
		}
	default:
		fmt.Fprintf(tw, "%s\n", res)
	}
	return nil
}
