package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/queue"
)

// cmdAudit is printerd audit: export a site's audit chains from CARD_AUDIT
// (as an auditor user), and verify an export offline against the daemons'
// public keys.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, `usage: printerd audit export [--site S] [--nats URL --nats-nkey SEED] > audit.jsonl
       printerd audit verify --keys DIR [--site S] [FILE]

export writes every record of the site's chains (one per daemon, cards.audit.<site>.<daemon>),
       one JSON object a line, as stored.
verify checks an export (FILE, or standard input) offline: every record signed by a daemon key
       in DIR (*.pub, each daemon's <state>/daemon.pub), each chain complete and in order.
       Exit 1 on a forged, changed, missing or reordered record or an unknown key.`)
	}
	if status, done := needVerb(args, usage); done {
		return status
	}
	verb := args[0]
	fs := flag.NewFlagSet("printerd audit "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nc natsClient
	nc.addFlags(fs)
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site")
	keys := fs.String("keys", "", "directory of the daemons' public keys (verify)")
	asJSON := fs.Bool("json", false, "print the verification summary as JSON")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for NATS (export)")
	pos, status, done := parseArgs(fs, args[1:])
	if done {
		return status
	}
	if !queue.ValidToken(*site) {
		fmt.Fprintln(stderr, "printerd audit: --site must be letters, digits, '-' or '_'")
		return exitUsage
	}
	switch verb {
	case "export":
		if len(pos) != 0 {
			usage()
			return exitUsage
		}
		conn, err := nc.Connect("printerd audit")
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit export: %v\n", err)
			return exitFail
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		js, _ := jetstream.New(conn)
		st, err := queue.OpenAudit(ctx, js)
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit export: %v\n", err)
			return exitFail
		}
		recs, err := queue.ExportAudit(ctx, st, *site)
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit export: %v\n", err)
			return exitFail
		}
		w := bufio.NewWriter(stdout)
		enc := json.NewEncoder(w)
		for _, r := range recs {
			enc.Encode(r)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintf(stderr, "printerd audit export: %v\n", err)
			return exitFail
		}
		return exitOK
	case "verify":
		if *keys == "" || len(pos) > 1 {
			usage()
			return exitUsage
		}
		ks, err := queue.LoadAuditKeys(*keys)
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit verify: %v\n", err)
			return exitFail
		}
		var in io.Reader = os.Stdin
		if len(pos) == 1 && pos[0] != "-" {
			f, err := os.Open(pos[0])
			if err != nil {
				fmt.Fprintf(stderr, "printerd audit verify: %v\n", err)
				return exitFail
			}
			defer f.Close()
			in = f
		}
		recs, err := readExport(in)
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit verify: %v\n", err)
			return exitFail
		}
		sum, err := queue.VerifyChains(*site, recs, ks)
		if err != nil {
			fmt.Fprintf(stderr, "printerd audit verify: %v\n", err)
			return exitFail
		}
		if *asJSON {
			b, _ := json.Marshal(sum)
			stdout.Write(append(b, '\n'))
			return exitOK
		}
		fmt.Fprintf(stdout, "audit of site %s: %d records in %d chains verified\n", *site, len(recs), len(sum))
		for _, c := range sum {
			fmt.Fprintf(stdout, "  daemon %s: %d records, head %s\n", c.Daemon, c.Records, c.Head)
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "printerd audit: unknown verb %q\n", verb)
	usage()
	return exitUsage
}

// readExport reads an export: one queue.ExportedRecord a line.
func readExport(r io.Reader) ([]queue.ExportedRecord, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var out []queue.ExportedRecord
	for n := 1; ; n++ {
		var e queue.ExportedRecord
		err := dec.Decode(&e)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("export record %d: want {subject, stream_seq, record}: %w", n, err)
		}
		out = append(out, e)
	}
}
