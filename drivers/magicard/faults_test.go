package magicard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
)

// TestFaults injects each simulator fault and checks the driver's verdict:
// the problem code, whether a card had been fed (Feed), and where the card
// is; then Reset puts a card left inside in the reject tray and the next
// card prints.
func TestFaults(t *testing.T) {
	tests := []struct {
		fault    string
		code     drivers.Code // 0 with ok
		feed     drivers.Feed
		ok       bool             // the card prints despite the fault
		position sim.CardPosition // after the failure
	}{
		{fault: "feeder-empty", code: drivers.FeederEmpty, feed: drivers.BeforeFeed, position: sim.CardNone},
		{fault: "cover-open", code: drivers.CoverOpen, feed: drivers.BeforeFeed, position: sim.CardNone},
		{fault: "ribbon-out-after=0", code: drivers.RibbonOut, feed: drivers.BeforeFeed, position: sim.CardNone},
		{fault: "need-cleaning-after=0", code: drivers.NeedsCleaning, feed: drivers.BeforeFeed, position: sim.CardNone},
		// A silent printer answers again on a new connection: the
		// driver's reconnect.
		{fault: "silent-after=0", ok: true, position: sim.CardEjected},
		{fault: "jam=feed", code: drivers.CardJam, feed: drivers.AfterFeed, position: sim.CardInside},
		{fault: "jam=y", code: drivers.CardJam, feed: drivers.AfterFeed, position: sim.CardInside},
		{fault: "jam=o", code: drivers.CardJam, feed: drivers.AfterFeed, position: sim.CardInside},
		{fault: "jam=eject", code: drivers.CardJam, feed: drivers.AfterFeed, position: sim.CardInside},
		{fault: "ribbon-out=m", code: drivers.RibbonOut, feed: drivers.FeedUnknown, position: sim.CardInside},
		// The text protocol cannot tell a cover opened before the feed
		// from one opened on a card: the job is held.
		{fault: "cover-open=feed", code: drivers.CoverOpen, feed: drivers.FeedUnknown, position: sim.CardNone},
		{fault: "cover-open=c", code: drivers.CoverOpen, feed: drivers.FeedUnknown, position: sim.CardInside},
		// The job was taken, then the printer stopped answering.
		{fault: "silent-after=1", code: drivers.Timeout, feed: drivers.FeedUnknown, position: sim.CardNone},
		// The job is in the printer when the link drops: the card prints,
		// and the counter says so after the driver reconnects.
		{fault: "drop=y", ok: true, position: sim.CardEjected},
		{fault: "drop=feed", ok: true, position: sim.CardEjected},
		// A garbled status reply costs a reconnect, not the card.
		{fault: "garbage=0", ok: true, position: sim.CardEjected},
		{fault: "garbage=1", ok: true, position: sim.CardEjected},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			f, err := sim.ParseFaults(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			dev := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE, Options: sim.Options{Faults: f}})
			link := openTCP(t, serveTCP(t, dev))
			opts := testOpts
			p := magicard.New(link, opts)
			ctx := context.Background()
			err = p.Print(ctx, municipal(t, "job-1"))
			dev.Wait()
			st := dev.State()
			if st.Position != tc.position {
				t.Errorf("card position %s, want %s", st.Position, tc.position)
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("Print: %v, want the card printed", err)
				}
				if n := dev.Counters().Printed; n != 1 {
					t.Fatalf("printed %d cards, want 1", n)
				}
				return
			}
			var de *drivers.Error
			if !errors.As(err, &de) {
				t.Fatalf("Print: %v, want a *drivers.Error", err)
			}
			if de.Code != tc.code || de.Feed != tc.feed {
				t.Fatalf("Print: code %s feed %d (%v), want code %s feed %d", de.Code, de.Feed, err, tc.code, tc.feed)
			}
			if !errors.Is(err, tc.code) {
				t.Fatalf("errors.Is(err, %s) = false", tc.code)
			}
			if n := dev.Counters().Printed; n != 0 {
				t.Fatalf("printed %d cards, want 0", n)
			}
			// Recovery: clear the cause, Reset, print again.
			dev.ClearFaults()
			dev.SetFeeder(10)
			dev.SetRibbon(10)
			if tc.fault == "need-cleaning-after=0" {
				if err := p.Reset(ctx); !errors.Is(err, drivers.NeedsCleaning) {
					t.Fatalf("Reset with cleaning overdue: %v, want needs-cleaning", err)
				}
				if err := p.Clean(ctx); err != nil {
					t.Fatalf("Clean: %v", err)
				}
			}
			if err := p.Reset(ctx); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			st = dev.State()
			if tc.position == sim.CardInside && (st.Position != sim.CardRejected || len(st.RejectTray) != 1) {
				t.Fatalf("after Reset: position %s, reject tray %v: want the card rejected", st.Position, st.RejectTray)
			}
			if err := p.Print(ctx, municipal(t, "job-2")); err != nil {
				t.Fatalf("Print after Reset: %v", err)
			}
			if n := dev.Counters().Printed; n != 1 {
				t.Fatalf("printed %d cards after recovery, want 1", n)
			}
		})
	}
}

// TestStatusAndCounters checks what Status and Counters report from the
// simulator's REQ,INF and REQ,STA replies.
func TestStatusAndCounters(t *testing.T) {
	dev := sim.NewMagicard(sim.MagicardOptions{Options: sim.Options{RibbonCards: 4}})
	p := magicard.New(openTCP(t, serveTCP(t, dev)), testOpts)
	ctx := context.Background()
	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Ready || st.RibbonLeft != 4 || len(st.Problems) != 1 || st.Problems[0] != drivers.RibbonLow {
		t.Fatalf("Status = %+v, want ready, 4 prints left, ribbon-low", st)
	}
	cd := municipal(t, "a")
	if err := p.Print(ctx, cd); err != nil {
		t.Fatal(err)
	}
	if err := p.Clean(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c != (drivers.Counters{Printed: 1, SinceCleaning: 0, Cleanings: 1}) {
		t.Fatalf("Counters = %+v, want 1 printed, 1 cleaning, 0 since", c)
	}
	st, err = p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.RibbonLeft != 2 {
		t.Fatalf("RibbonLeft = %d after a two-sided card, want 2", st.RibbonLeft)
	}
	dev.SetCover(true)
	st, err = p.Status(ctx)
	if err != nil || st.Ready || st.Problems[0] != drivers.CoverOpen {
		t.Fatalf("Status with the cover open = %+v, %v: want not ready, cover-open", st, err)
	}
	if raw, err := p.Raw(ctx, "REQ,STA,TCQ,"); err != nil || raw != "STA,TCQ,1," {
		t.Fatalf("Raw = %q, %v", raw, err)
	}
}

// TestEject checks that EJT pushes a jammed card out to the output hopper
// and clears the jam.
func TestEject(t *testing.T) {
	f, _ := sim.ParseFaults("jam=k")
	dev := sim.NewMagicard(sim.MagicardOptions{Options: sim.Options{Faults: f}})
	p := magicard.New(openTCP(t, serveTCP(t, dev)), testOpts)
	ctx := context.Background()
	if err := p.Print(ctx, municipal(t, "j")); !errors.Is(err, drivers.CardJam) {
		t.Fatalf("Print: %v, want card-jam", err)
	}
	if err := p.Eject(ctx); err != nil {
		t.Fatal(err)
	}
	st := dev.State()
	if st.Position != sim.CardEjected || st.CardInside || st.Error != 0 || len(st.Ejected) != 1 {
		t.Fatalf("after Eject: %+v", st)
	}
}
