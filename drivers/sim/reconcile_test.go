package sim

import (
	"context"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
)

// The Evolis driver's Probe and Reject against the simulator: the counters
// and card position a reconciliation compares, for each way a card can end
// (printed, jammed, left inside by a host that went away), and the reject
// tray counting a card Reject cleared.
func TestProbeAndReject(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		faults string
		// hostDies closes the link mid-card instead of finishing Print, as a
		// killed daemon does.
		hostDies bool
		want     drivers.Snapshot // after the card, before Reject
	}{
		{name: "printed", want: drivers.Snapshot{Printed: 1, Rejected: 0, Card: drivers.CardNone}},
		{name: "jam", faults: "jam=m", want: drivers.Snapshot{Printed: 0, Rejected: 0, Card: drivers.CardInside, Station: "print"}},
		// The driver resets a dropped link; a sim:// link's reset
		// soft-resets the device, which puts the card in the reject tray.
		{name: "link dropped at eject", faults: "drop=eject", want: drivers.Snapshot{Printed: 0, Rejected: 1, Card: drivers.CardNone}},
		{name: "host died mid-card", hostDies: true, want: drivers.Snapshot{Printed: 0, Rejected: 0, Card: drivers.CardInside, Station: "print"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{Name: "rec", Serial: "SIMREC01", Speed: 0.02})
			if tc.faults != "" {
				if err := d.SetFault(tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			l := d.Connect()
			p := evolis.New(l, evolis.Options{ReplyTimeout: time.Second, MotionTimeout: 3 * time.Second})
			pre, err := p.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := (drivers.Snapshot{Serial: "SIMREC01", Card: drivers.CardNone}); pre != want {
				t.Fatalf("pre-feed probe = %+v, want %+v", pre, want)
			}
			if tc.hostDies {
				pctx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- p.Print(pctx, testCard("job-1", false)) }()
				for d.State().Fed == 0 || !d.State().CardInside {
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond)
				l.Close() // the host is gone: the device sees its connection end
				cancel()
				<-done
				l = d.Connect()
				p = evolis.New(l, evolis.Options{ReplyTimeout: time.Second, MotionTimeout: 3 * time.Second})
			} else if err := p.Print(ctx, testCard("job-1", false)); (err == nil) != (tc.faults == "") {
				t.Fatalf("print: %v", err)
			}
			defer l.Close()
			got, err := p.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Serial = "SIMREC01"
			if got != tc.want {
				t.Fatalf("probe after the card = %+v, want %+v", got, tc.want)
			}
			if err := p.Reject(ctx); err != nil {
				t.Fatal(err)
			}
			after, err := p.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantRejected := tc.want.Rejected
			if tc.want.Card == drivers.CardInside {
				wantRejected++
			}
			if after.Card != drivers.CardNone || after.Rejected != wantRejected || after.Printed != tc.want.Printed {
				t.Fatalf("probe after Reject = %+v, want no card, %d rejected, %d printed", after, wantRejected, tc.want.Printed)
			}
			if st, err := p.Status(ctx); err != nil || !st.Ready {
				t.Fatalf("status after Reject = %+v, %v; want ready", st, err)
			}
		})
	}
}
