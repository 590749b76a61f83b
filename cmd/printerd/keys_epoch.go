package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/epoch"
)

const keysEpochUsage = `usage: printerd keys epoch <verb> --state DIR [flags]

The daemon's epoch keys: the HPKE key pairs enrollment seals jobs to, one per
epoch (a day), kept in <state>/epoch and destroyed by the daemon once every
job sealed to them must have been printed or expired (epoch end + CARD_JOBS
max age + held retention). The running daemon makes, announces (daemon_keys)
and destroys them itself every hour; these verbs act on the state directory.

verbs:
  list     show the keys held: epoch, key id, KEM, start, end, state, destroyed after
  rotate   make the current epoch's key (and the next one when it is due) now
  destroy  destroy one epoch's key now (jobs sealed only to it can no longer
           be printed) and withdraw its announcement from daemon_keys
`

// keysEpoch is printerd keys epoch.
func keysEpoch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysEpochUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stderr, keysEpochUsage)
		return exitOK
	case "list":
		return keysEpochList(args[1:], stdout, stderr)
	case "rotate":
		return keysEpochRotate(args[1:], stdout, stderr)
	case "destroy":
		return keysEpochDestroy(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "printerd keys epoch: unknown verb %q\n\n%s", args[0], keysEpochUsage)
	return exitUsage
}

// parseFlagsOnly parses args into fs and refuses positional arguments;
// done says the command ends with code (help, or bad usage).
func parseFlagsOnly(fs *flag.FlagSet, args []string) (code int, done bool) {
	pos, code, done := parseArgs(fs, args)
	if done {
		return code, true
	}
	if len(pos) > 0 {
		return kvUsageError(fs, "unexpected argument %q", pos[0]), true
	}
	return 0, false
}

// stateFlag is --state, defaulting as printerd run's state setting does.
func stateFlag(fs *flag.FlagSet) *string {
	def := os.Getenv(envName("state"))
	if def == "" {
		def = daemon.DefaultConfig().State
	}
	return fs.String("state", def, "the daemon's state directory [PRINTERD_STATE]")
}

// epochKeyView is one key as list shows it.
type epochKeyView struct {
	Epoch          string    `json:"epoch"`
	KID            string    `json:"kid"`
	KEM            uint16    `json:"kem"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	State          string    `json:"state"` // current, next, ended
	DestroyedAfter time.Time `json:"destroyed_after"`
}

func keysEpochList(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys epoch list", "printerd keys epoch list --state DIR [--job-max-age D] [--held-retention D] [--json]", stderr)
	state := stateFlag(fs)
	maxAge := fs.Duration("job-max-age", queue.DefaultJobsMaxAge, "CARD_JOBS maximum age, for the destruction time shown")
	held := fs.Duration("held-retention", queue.DefaultHeldRetention, "CARD_HELD retention, for the destruction time shown")
	asJSON := fs.Bool("json", false, "print the keys as JSON")
	if code, done := parseFlagsOnly(fs, args); done {
		return code
	}
	st, _, err := daemon.OpenKeys(*state)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch list: %v\n", err)
		return exitFail
	}
	keys, err := st.Keys()
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch list: %v\n", err)
		return exitFail
	}
	now := time.Now().UTC()
	views := []epochKeyView{}
	for _, k := range keys {
		v := epochKeyView{Epoch: k.Epoch, KID: k.ID, KEM: k.KEM, Start: k.Start, End: k.End,
			DestroyedAfter: k.End.Add(*maxAge + *held)}
		switch {
		case now.Before(k.Start):
			v.State = "next"
		case now.Before(k.End):
			v.State = "current"
		default:
			v.State = "ended"
		}
		views = append(views, v)
	}
	if *asJSON {
		return kvPrintJSON(stdout, stderr, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tKID\tKEM\tSTART\tEND\tSTATE\tDESTROYED AFTER")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Epoch, v.KID, v.KEM, v.Start.Format(time.RFC3339),
			v.End.Format(time.RFC3339), v.State, v.DestroyedAfter.Format(time.RFC3339))
	}
	tw.Flush()
	return exitOK
}

func keysEpochRotate(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys epoch rotate", "printerd keys epoch rotate --state DIR", stderr)
	state := stateFlag(fs)
	if code, done := parseFlagsOnly(fs, args); done {
		return code
	}
	st, _, err := daemon.OpenKeys(*state)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch rotate: %v\n", err)
		return exitFail
	}
	k, err := st.Current(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch rotate: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "current epoch %s: key %s (until %s)\n", k.Epoch, k.ID, k.End.Format(time.RFC3339))
	fmt.Fprintln(stdout, "the running daemon announces it in daemon_keys at its next key upkeep (hourly) or start")
	return exitOK
}

func keysEpochDestroy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys epoch destroy", "printerd keys epoch destroy EPOCH --state DIR [--site S] [--offline] [--nats URL]", stderr)
	state := stateFlag(fs)
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "the daemon's site, whose announcement is withdrawn")
	offline := fs.Bool("offline", false, "do not withdraw the announcement now (the daemon does at its next upkeep)")
	var nc natsClient
	nc.addFlags(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		return kvUsageError(fs, "name one epoch id, e.g. 20261130T000000Z (printerd keys epoch list)")
	}
	st, sg, err := daemon.OpenKeys(*state)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch destroy: %v\n", err)
		return exitFail
	}
	if err := st.Destroy(pos[0]); err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch destroy: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "destroyed the key of epoch %s: jobs sealed only to it can no longer be printed\n", pos[0])
	if *offline {
		return exitOK
	}
	conn, err := nc.Connect("printerd keys")
	if err == nil {
		defer conn.Close()
		var js jetstream.JetStream
		if js, err = jetstream.New(conn); err == nil {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var kv jetstream.KeyValue
			if kv, err = js.KeyValue(ctx, epoch.Bucket); err == nil {
				err = epoch.Withdraw(ctx, kv, *site, sg.KID, pos[0])
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys epoch destroy: announcement not withdrawn (the daemon withdraws it at its next upkeep): %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "withdrew its announcement %s from %s\n", epoch.KVKey(*site, sg.KID, pos[0]), epoch.Bucket)
	return exitOK
}

// keysDaemon is printerd keys daemon: the daemon's long-term public key,
// which enrollment pins (submit --daemon-keys DIR).
func keysDaemon(args []string, stdout, stderr io.Writer) int {
	fs := kvFlagSet("printerd keys daemon", "printerd keys daemon --state DIR [--out FILE] [--json]", stderr)
	state := stateFlag(fs)
	out := fs.String("out", "", "also write the public key (PEM) to FILE, for enrollment's pinned directory")
	asJSON := fs.Bool("json", false, "print {kid, public_key} as JSON")
	if code, done := parseFlagsOnly(fs, args); done {
		return code
	}
	if _, _, err := daemon.OpenKeys(*state); err != nil {
		fmt.Fprintf(stderr, "printerd keys daemon: %v\n", err)
		return exitFail
	}
	pub, err := daemonPub(*state)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys daemon: %v\n", err)
		return exitFail
	}
	pem, err := os.ReadFile(pub.Path)
	if err != nil {
		fmt.Fprintf(stderr, "printerd keys daemon: %v\n", err)
		return exitFail
	}
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
			err = os.WriteFile(*out, pem, 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "printerd keys daemon: %v\n", err)
			return exitFail
		}
	}
	if *asJSON {
		return kvPrintJSON(stdout, stderr, struct {
			KID       string `json:"kid"`
			PublicKey string `json:"public_key"`
		}{pub.KID, string(pem)})
	}
	fmt.Fprintf(stdout, "daemon key id: %s\n%s", pub.KID, pem)
	return exitOK
}
