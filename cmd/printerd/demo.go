package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/layout"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/job/sample"
)

// cmdDemo is printerd demo: the daemon on embedded defaults in one process
// (embedded NATS accepting in-process connections only, so it never clashes
// with a running daemon), one simulated printer, N sample jobs signed and
// sealed to the daemon's epoch key and published as an enrollment system
// would, printed by the real queue
// workers through the Evolis driver to the simulator.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "out", "directory for the card images and proofs")
	n := fs.Int("jobs", 3, fmt.Sprintf("number of sample jobs (1-%d)", demoMaxJobs))
	verbose := fs.Bool("v", false, "log the daemon's records (JSON) to standard error")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	lang := fs.String("lang", "evolis", "simulated printer: evolis, or magicard (a Tango 2E, KEE layout, through the Magicard driver)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: printerd demo [--out DIR] [--jobs N] [--lang evolis|magicard] [--timeout D] [-v]\n\n"+
			"Runs the whole job in one process on embedded defaults: an embedded nats-server with JetStream, one\n"+
			"simulated printer, N sample jobs for invented people signed and published as an enrollment system\n"+
			"would, printed by the real queue workers. Writes what the simulator printed (DIR/<job_id>-front.png,\n"+
			"-back.png) and a proof PDF per card, shows each card as it comes out, then a summary.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 || *n < 1 || *n > demoMaxJobs || (*lang != "evolis" && *lang != "magicard") {
		fmt.Fprintf(stderr, "usage: printerd demo [--out DIR] [--jobs N (1-%d)] [--lang evolis|magicard]\n", demoMaxJobs)
		return exitUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(newLogHandler(stderr, "", level))
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := runDemo(ctx, demoOptions{Out: *out, Jobs: *n, Log: log, Lang: *lang, Progress: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "printerd demo: %v\n", err)
		if res == nil {
			return exitFail
		}
	}
	printDemo(stdout, res)
	for _, r := range res {
		if r.State != queue.EventPrinted {
			return exitFail
		}
	}
	if err != nil {
		return exitFail
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(stdout, "\n%d card(s) printed by the simulator; open %s\n", len(res), abs)
	return exitOK
}

// demoPrinter is the demo's simulated printer.
const demoPrinter = "demo"

// demoMaxJobs bounds --jobs so that a demo ends within about a minute on a
// small machine (a card costs some tens of milliseconds of CPU to lay out,
// encode and simulate; the simulator keeps only its newest cards in memory,
// the rest are on disk in --out).
const demoMaxJobs = 1000

// demoOptions configure runDemo.
type demoOptions struct {
	Out  string
	Jobs int
	Log  *slog.Logger
	Lang string // "magicard" for a simulated Magicard; else Evolis
	// Progress, if set, gets a line as each card comes out (or its job
	// ends otherwise): "[3/50] printed: job <id>, card <number>".
	Progress io.Writer
}

// demoResult is one job's outcome.
type demoResult struct {
	JobID  string
	Card   string
	State  string
	Reason string
	Files  []string
}

// runDemo does the demo's work and returns one result per job, in order.
func runDemo(ctx context.Context, o demoOptions) ([]demoResult, error) {
	tmp, err := os.MkdirTemp("", "printerd-demo-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	keys := filepath.Join(tmp, "keys")
	approvers := filepath.Join(tmp, "approvers")
	issuer, err := keyfile.New(keyfile.ES256)
	if err != nil {
		return nil, err
	}
	if err := keyfile.WritePair(keys, "issuer", issuer); err != nil {
		return nil, err
	}
	approver, err := keyfile.New(keyfile.Ed25519)
	if err != nil {
		return nil, err
	}
	if err := keyfile.WritePair(approvers, "approver", approver); err != nil {
		return nil, err
	}
	// The private approver key stays with the "enrollment system"; only
	// the public key is in the daemon's trusted directory.
	if err := os.Rename(filepath.Join(approvers, "approver.key"), filepath.Join(keys, "approver.key")); err != nil {
		return nil, err
	}

	cfg := daemon.DefaultConfig()
	cfg.State = filepath.Join(tmp, "state")
	cfg.NATSListen = "none"
	cfg.HTTP = ""
	cfg.ApproverKeys = approvers
	cfg.IssuerKey = filepath.Join(keys, "issuer.key")
	q := url.Values{"out": {out}, "speed": {"0"}}
	if o.Lang == "magicard" {
		q.Set("lang", "magicard")
		q.Set("poll", "20ms")
	}
	cfg.Printers = []string{"sim://" + demoPrinter + "?" + q.Encode()}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	var proofMu sync.Mutex
	proofErrs := map[string]error{}
	sims := &sim.Registry{} // the demo's own simulated printer
	deps := daemonDeps{log: o.Log, sims: sims, onCard: func(jobID string, c *layout.Card) {
		err := writeProof(filepath.Join(out, jobID+"-proof.pdf"), c)
		proofMu.Lock()
		proofErrs[jobID] = err
		proofMu.Unlock()
	}}
	d, err := startDaemon(ctx, cfg, deps)
	if err != nil {
		return nil, err
	}
	defer d.Shutdown(context.Background())
	if dev := sims.Lookup(demoPrinter); dev != nil {
		dev.SetFeeder(o.Jobs + 10) // enough blank cards and ribbon for every job
		dev.SetRibbon(2*o.Jobs + 10)
	}
	if dev := sims.LookupMagicard(demoPrinter); dev != nil {
		dev.SetFeeder(o.Jobs + 10)
		dev.SetRibbon(2*o.Jobs + 10)
	}

	jobs := sample.Jobs(o.Jobs, time.Now())
	res := make([]demoResult, len(jobs))
	index := map[string]int{}
	for i, j := range jobs {
		res[i] = demoResult{JobID: j.ID, Card: j.Card.Number, State: "not published"}
		index[j.ID] = i
	}
	// Watch the events before publishing: every job ends printed,
	// rejected or held.
	var mu sync.Mutex
	pending := len(jobs)
	done := make(chan struct{})
	sub, err := d.Conn().Subscribe("cards.events.>", func(m *nats.Msg) {
		var ev queue.Event
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		i, ok := index[ev.JobID]
		if !ok {
			return
		}
		terminal := func(s string) bool {
			return s == queue.EventPrinted || s == queue.EventRejected || s == queue.EventHeld
		}
		if terminal(res[i].State) {
			return
		}
		res[i].State, res[i].Reason = ev.State, ev.Reason
		if terminal(ev.State) {
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "[%d/%d] %s: job %s, card %s\n", len(jobs)-pending+1, len(jobs), ev.State, ev.JobID, res[i].Card)
			}
			pending--
			if pending == 0 {
				close(done)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	defer sub.Unsubscribe()
	if err := d.Conn().Flush(); err != nil {
		return nil, err
	}

	// As enrollment: pin the daemon's key, seal each job to its current
	// epoch key (announced in daemon_keys), sign, publish.
	pinned, err := daemonPub(cfg.State)
	if err != nil {
		return nil, fmt.Errorf("daemon key: %w", err)
	}
	for i, j := range jobs {
		body, _, err := sealForSite(ctx, d.JetStream(), cfg.Site, queue.DefaultPool, []keyfile.Public{pinned}, j, time.Now())
		if err != nil {
			return res, fmt.Errorf("seal job %d: %w", i+1, err)
		}
		msg, err := signedJobMsg(queue.JobsSubject(cfg.Site, queue.DefaultPool), j.ID, body, approver)
		if err != nil {
			return nil, err
		}
		if _, err := d.JetStream().PublishMsg(ctx, msg); err != nil {
			return res, fmt.Errorf("publish job %d: %w", i+1, err)
		}
		mu.Lock()
		if res[i].State == "not published" {
			res[i].State = "published"
		}
		mu.Unlock()
	}
	var waitErr error
	select {
	case <-done:
	case <-ctx.Done():
		waitErr = fmt.Errorf("gave up waiting for the cards: %w", ctx.Err())
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	d.Drain(dctx)
	dcancel()
	d.Shutdown(context.Background())

	mu.Lock()
	defer mu.Unlock()
	proofMu.Lock()
	defer proofMu.Unlock()
	for i := range res {
		r := &res[i]
		for _, f := range []string{"-front.png", "-back.png", "-proof.pdf"} {
			if _, err := os.Stat(filepath.Join(out, r.JobID+f)); err == nil {
				r.Files = append(r.Files, r.JobID+f)
			}
		}
		if err := proofErrs[r.JobID]; err != nil && waitErr == nil {
			waitErr = fmt.Errorf("proof for job %s: %w", r.JobID, err)
		}
		if r.State == queue.EventPrinted && len(r.Files) < 2 && waitErr == nil {
			waitErr = fmt.Errorf("job %s printed but the simulator wrote no image", r.JobID)
		}
	}
	return res, waitErr
}

// writeProof writes a card's proof PDF, mode 0600 (it holds personal data).
func writeProof(path string, c *layout.Card) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := c.WriteProofPDF(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printDemo prints the summary table.
func printDemo(w io.Writer, res []demoResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCARD\tSTATE\tFILES")
	for _, r := range res {
		state := r.State
		if r.Reason != "" {
			state += " (" + r.Reason + ")"
		}
		files := "-"
		if len(r.Files) > 0 {
			files = ""
			for i, f := range r.Files {
				if i > 0 {
					files += " "
				}
				files += f
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.JobID, r.Card, state, files)
	}
	tw.Flush()
}
