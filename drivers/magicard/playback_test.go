package magicard_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/playback"
	"github.com/cityid/printerd/drivers/sim"
)

var update = flag.Bool("update", false, "record the exchanges in testdata/exchanges again from drivers/sim")

const exchanges = "../../testdata/exchanges"

// TestPrintPlayback replays recorded sessions (Info, Print, Counters) of
// the built-in card on each layout, and a jam, against the driver: every
// byte it writes must be the recording's, and every exchange must happen.
// With -update the sessions are recorded again from drivers/sim over TCP,
// through playback.Record as `printerd diag --record` records a real
// printer.
func TestPrintPlayback(t *testing.T) {
	for _, tc := range []struct {
		file, layout, fault string
		code                drivers.Code
		feed                drivers.Feed
	}{
		{file: "magicard-kee-print.txt", layout: sim.MagicardKEE},
		{file: "magicard-kge-print.txt", layout: sim.MagicardKGE},
		{file: "magicard-kge-jam.txt", layout: sim.MagicardKGE, fault: "jam=m", code: drivers.CardJam, feed: drivers.AfterFeed},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(exchanges, tc.file)
			opts := testOpts
			opts.Now = func() time.Time { return time.Unix(0x66000000, 0) }
			if *update {
				f, _ := sim.ParseFaults(tc.fault)
				dev := sim.NewMagicard(sim.MagicardOptions{Layout: tc.layout, Options: sim.Options{Faults: f}})
				rec := &playback.Record{Link: openTCP(t, serveTCP(t, dev))}
				session(t, magicard.New(rec, opts), tc.code, tc.feed)
				out, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				out.WriteString("# Recorded from drivers/sim (Magicard, " + tc.layout + ") by go test ./drivers/magicard -run TestPrintPlayback -update\n")
				if err := playback.Format(out, rec.Ops()); err != nil {
					t.Fatal(err)
				}
				out.Close()
			}
			pb, err := playback.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			session(t, magicard.New(pb, opts), tc.code, tc.feed)
			if err := pb.Close(); err != nil {
				t.Fatalf("playback: %v", err)
			}
		})
	}
}

// session is the recorded conversation: Info, Print, Counters.
func session(t *testing.T, p *magicard.Printer, code drivers.Code, feed drivers.Feed) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.Info(ctx); err != nil {
		t.Fatal(err)
	}
	err := p.Print(ctx, municipal(t, "job-1"))
	if code == 0 {
		if err != nil {
			t.Fatal(err)
		}
	} else {
		var de *drivers.Error
		if !errors.As(err, &de) || de.Code != code || de.Feed != feed {
			t.Fatalf("Print: %v, want code %s feed %d", err, code, feed)
		}
	}
	c, err := p.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if code != 0 {
		want = 0
	}
	if c.Printed != want {
		t.Fatalf("Printed = %d, want %d", c.Printed, want)
	}
}
