package queue_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/queue"
	"github.com/cityid/printerd/queue/epoch"
	"github.com/cityid/printerd/queue/job"
)

// ExampleStart wires a daemon: approver keys, epoch keys, a maker (layout in
// cmd/printerd), printers, then SIGTERM drains. (Compiled, not run: it
// needs a NATS server and a printer.)
func ExampleStart() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := job.LoadVerifier("/etc/printerd/approvers")
	if err != nil {
		log.Fatal(err)
	}
	// The daemon's epoch keys (the sealed jobs' recipients) and its
	// long-term key, which signs their announcements.
	keys, err := epoch.Open(epoch.Options{Dir: "/var/lib/printerd/epoch"})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := epoch.LoadOrCreateSigner("/var/lib/printerd", "daemon")
	if err != nil {
		log.Fatal(err)
	}
	var front drivers.Printer // e.g. from drivers.Registry.Open(ctx, "usb://auto")
	d, err := queue.Start(ctx, queue.Config{
		Site:     "city-hall",
		JS:       js,
		Approver: verifier,
		Keys:     keys,
		Signer:   signer,
		Maker: queue.MakerFunc(func(ctx context.Context, j *job.Job, _ card.Ribbon) (card.Card, error) {
			return card.Card{}, nil // layout.Render in cmd/printerd
		}),
		Printers: []queue.Printer{{Name: "front-desk", Pool: "default", Dev: front}},
	})
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := d.Drain(dctx); err != nil { // the cards in the printers finish
		log.Print(err)
	}
	d.Close()
}

// ExampleVerifyAudit checks a site's audit chains against the daemons'
// public keys (each daemon's daemon.pub, collected in one directory).
func ExampleVerifyAudit() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := queue.Setup(ctx, js, queue.SetupConfig{})
	if err != nil {
		log.Fatal(err)
	}
	keys, err := queue.LoadAuditKeys("/etc/printerd/audit-keys")
	if err != nil {
		log.Fatal(err)
	}
	n, err := queue.VerifyAudit(ctx, st, "city-hall", keys)
	if err != nil {
		log.Fatalf("audit chain broken after %d records: %v", n, err)
	}
	log.Printf("%d audit records verified", n)
}
