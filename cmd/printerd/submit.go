package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/internal/keyfile"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
)

// cmdSubmit is printerd submit: it reads a plain card file, seals the
// person to the current epoch keys of the site's daemons (fetched from
// daemon_keys and verified against the pinned daemon keys of
// --daemon-keys), signs the exact v2 body with an approver key and
// publishes it to cards.jobs.<site>.<pool> as an enrollment system must,
// waiting for JetStream's acknowledgement.
func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printerd submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: printerd submit CARD.json --approver-key FILE --daemon-keys DIR [--nats URL] [--site S] [--pool P] [--json]\n\n"+
			"CARD.json is a plain card file (the v1 job JSON: the person and the clear fields); submit seals the\n"+
			"person to the site's daemons (contract v2, docs/job-contract-v2.md), signs and publishes the job.")
		fs.PrintDefaults()
	}
	var nc natsClient
	nc.addFlags(fs)
	keyPath := fs.String("approver-key", os.Getenv("PRINTERD_APPROVER_KEY"), "approver private key (Ed25519 PEM, mode 0600)")
	daemonKeys := fs.String("daemon-keys", os.Getenv("PRINTERD_DAEMON_KEYS"), "directory of the pinned public keys (*.pub) of the site's daemons (each daemon's <state>/daemon.pub; printerd keys daemon)")
	site := fs.String("site", envOr("PRINTERD_SITE", "local"), "site")
	pool := fs.String("pool", queue.DefaultPool, "printer pool")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the keys and the acknowledgement")
	files, status, done := parseArgs(fs, args)
	if done {
		return status
	}
	switch {
	case len(files) != 1:
		return usageError(stderr, "submit", "name exactly one card file")
	case *keyPath == "":
		return usageError(stderr, "submit", "--approver-key is required (the approver's private key file, or PRINTERD_APPROVER_KEY)")
	case *daemonKeys == "":
		return usageError(stderr, "submit", "--daemon-keys is required (the pinned daemon keys the job is sealed to)")
	}
	if !queue.ValidToken(*site) || !queue.ValidToken(*pool) {
		fmt.Fprintln(stderr, "printerd submit: --site and --pool must be letters, digits, '-' or '_'")
		return exitUsage
	}
	plain, err := os.ReadFile(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %v\n", err)
		return exitFail
	}
	j, err := job.Parse(plain)
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %s: %v\n", files[0], err)
		return exitFail
	}
	defer j.Wipe()
	key, err := keyfile.LoadPrivate(*keyPath)
	if err == nil {
		if _, ok := key.(ed25519.PrivateKey); !ok {
			err = fmt.Errorf("approver key: want Ed25519, have %T (printerd keys new --kind approver)", key)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %v\n", err)
		return exitFail
	}
	pinned, err := keyfile.LoadDir(*daemonKeys)
	if err == nil && len(pinned) == 0 {
		err = fmt.Errorf("no daemon keys (*.pub) in %s: pin the site's daemons (printerd keys daemon)", *daemonKeys)
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: --daemon-keys: %v\n", err)
		return exitFail
	}
	conn, err := nc.Connect("printerd submit")
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %v\n", err)
		return exitFail
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, pick, err := sealForSite(ctx, js, *site, *pool, pinned, j, time.Now())
	if pick != nil {
		for _, d := range pick.Missing {
			fmt.Fprintf(stderr, "printerd submit: warning: pinned daemon %s has no current epoch key in %s: it cannot print this job\n", d, epoch.Bucket)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: seal: %v\n", err)
		return exitFail
	}
	msg, err := signedJobMsg(queue.JobsSubject(*site, *pool), j.ID, body, key)
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: %v\n", err)
		return exitFail
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		fmt.Fprintf(stderr, "printerd submit: publish to %s: %v\n", msg.Subject, err)
		return exitFail
	}
	kids := make([]string, len(pick.Recipients))
	for i, r := range pick.Recipients {
		kids[i] = r.KeyID
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{
			"job_id": j.ID, "subject": msg.Subject, "stream": ack.Stream, "seq": ack.Sequence, "duplicate": ack.Duplicate,
			"sealed_to": kids,
		})
		return exitOK
	}
	if ack.Duplicate {
		fmt.Fprintf(stdout, "duplicate: job %s was already published; the stream dropped this copy\n", j.ID)
		return exitOK
	}
	fmt.Fprintf(stdout, "published job %s to %s (stream %s, seq %d), sealed to %d daemon key(s)\n", j.ID, msg.Subject, ack.Stream, ack.Sequence, len(kids))
	return exitOK
}

// signedJobMsg makes the message an enrollment system publishes: the exact
// body bytes with Nats-Msg-Id (job.MsgID: the job id bound to the
// signature), Approval-Key and Approval-Signature.
func signedJobMsg(subject, jobID string, body []byte, key crypto.Signer) (*nats.Msg, error) {
	kid, sig, err := signApproval(body, key)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(job.HeaderMsgID, job.MsgID(jobID, sig))
	m.Header.Set(job.HeaderKey, kid)
	m.Header.Set(job.HeaderSignature, sig)
	return m, nil
}

// signApproval signs body with an Ed25519 approver key (job.Sign): the key
// id and the base64 signature for the approval headers.
func signApproval(body []byte, key crypto.Signer) (kid, sig string, err error) {
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return "", "", fmt.Errorf("approver key: want Ed25519, have %T (printerd keys new --kind approver)", key)
	}
	return job.Sign(priv, body)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
