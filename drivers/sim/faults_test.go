package sim

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
)

// Every fault, through the real driver: the typed error, whether the card
// had been fed, the state it leaves, and recovery by a reset.
func TestFaultsThroughDriver(t *testing.T) {
	tests := []struct {
		spec      string
		good      int // cards that print before the fault
		code      drivers.Code
		feed      drivers.Feed
		inside    bool // card left in the printer
		cover     bool // cover left open
		printed   int  // cards ejected in the end (before recovery)
		rejected  int  // cards in the reject tray after the driver returned
		twoSided  bool
		magnetics bool
	}{
		{spec: "ribbon-out-after=1", good: 1, code: drivers.RibbonOut, feed: drivers.BeforeFeed},
		{spec: "ribbon-out=m", code: drivers.RibbonOut, feed: drivers.AfterFeed, inside: true},
		{spec: "jam=feed", code: drivers.CardJam, feed: drivers.FeedUnknown, inside: true},
		{spec: "jam=y", code: drivers.CardJam, feed: drivers.AfterFeed, inside: true},
		{spec: "jam=k@2", good: 1, code: drivers.CardJam, feed: drivers.AfterFeed, inside: true},
		{spec: "jam=eject", code: drivers.CardJam, feed: drivers.AfterFeed, inside: true},
		{spec: "jam=c", code: drivers.CardJam, feed: drivers.AfterFeed, inside: true, twoSided: true},
		{spec: "jam=feed", code: drivers.CardJam, feed: drivers.AfterFeed, inside: true, magnetics: true},
		{spec: "cover-open=feed", code: drivers.CoverOpen, feed: drivers.FeedUnknown, cover: true},
		{spec: "cover-open=o", code: drivers.CoverOpen, feed: drivers.AfterFeed, inside: true, cover: true},
		{spec: "cover-open", code: drivers.CoverOpen, feed: drivers.BeforeFeed, cover: true},
		{spec: "feeder-empty", code: drivers.FeederEmpty, feed: drivers.BeforeFeed},
		{spec: "feeder=2", good: 2, code: drivers.FeederEmpty, feed: drivers.BeforeFeed},
		{spec: "need-cleaning-after=1", good: 1, code: drivers.NeedsCleaning, feed: drivers.BeforeFeed},
		{spec: "silent-after=0", code: drivers.Timeout, feed: drivers.BeforeFeed},
		{spec: "silent-after=4", code: drivers.Timeout, feed: drivers.FeedUnknown},
		{spec: "silent-after=6", code: drivers.Timeout, feed: drivers.AfterFeed, rejected: 1},
		{spec: "drop=c", code: drivers.Offline, feed: drivers.AfterFeed, rejected: 1},
		{spec: "garbage=0", code: drivers.Protocol, feed: drivers.BeforeFeed},
		{spec: "garbage=6", code: drivers.Protocol, feed: drivers.AfterFeed, rejected: 1},
	}
	for _, tc := range tests {
		name := tc.spec
		if tc.twoSided {
			name += "-two-sided"
		}
		if tc.magnetics {
			name += "-mag"
		}
		t.Run(name, func(t *testing.T) {
			f, err := ParseFaults(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			d := New(Options{Faults: f})
			// Short time-outs where the fault is silence; generous ones
			// otherwise (the race detector slows decoding tenfold).
			motion := 10 * time.Second
			if tc.code == drivers.Timeout {
				motion = 500 * time.Millisecond
			}
			p, l := newDriver(t, d, evolis.Options{ReplyTimeout: 200 * time.Millisecond, MotionTimeout: motion, MaxResets: -1})
			ctx := context.Background()
			card := testCard("job", tc.twoSided)
			if tc.magnetics {
				card.Mag[1] = "1234"
			}
			for i := 0; i < tc.good; i++ {
				if err := p.Print(ctx, card); err != nil {
					t.Fatalf("card %d before the fault: %v", i+1, err)
				}
			}
			err = p.Print(ctx, card)
			var de *drivers.Error
			if !errors.As(err, &de) || !errors.Is(err, tc.code) || de.Feed != tc.feed {
				t.Fatalf("print error %v (%#v); want code %v feed %v", err, de, tc.code, tc.feed)
			}
			st := d.State()
			if st.CardInside != tc.inside || st.CoverOpen != tc.cover {
				t.Fatalf("state %+v; want card inside %v, cover open %v", st, tc.inside, tc.cover)
			}
			c := d.Counters()
			if c.Printed != tc.good || c.Rejected != tc.rejected || len(d.Cards()) != tc.good {
				t.Fatalf("counters %+v, %d cards; want %d printed, %d rejected", c, len(d.Cards()), tc.good, tc.rejected)
			}
			if tc.inside {
				// The card stays until it is rejected: the next card is refused
				// before it is fed.
				err := p.Print(ctx, card)
				if err == nil || drivers.Fed(err) {
					t.Fatalf("second print with a card inside: %v; want a before-feed refusal", err)
				}
				if st, err := p.Status(ctx); err != nil || !showsCardInside(st) {
					t.Fatalf("status with a card inside: %+v, %v; want not ready, card inside", st, err)
				}
			}
			// Recovery: reset (and clean, refill) as an operator would.
			p = evolis.New(l, evolis.Options{ReplyTimeout: 2 * time.Second, MotionTimeout: 10 * time.Second})
			if err := p.Reset(ctx); err != nil {
				t.Fatalf("reset: %v", err)
			}
			if tc.code == drivers.NeedsCleaning {
				if err := p.Clean(ctx); err != nil {
					t.Fatalf("clean: %v", err)
				}
			}
			d.SetFeeder(10)
			d.SetRibbon(10)
			if err := p.Print(ctx, card); err != nil {
				t.Fatalf("print after recovery: %v", err)
			}
			if n := len(d.Cards()); n != tc.good+1 {
				t.Fatalf("%d cards after recovery, want %d", n, tc.good+1)
			}
		})
	}
}

// The raw replies of faults, as a printer gives them, byte for byte.
func TestFaultReplies(t *testing.T) {
	mono := download("k", "2", make([]byte, monoPanelBytes))
	card := join(cmd("Ss"), cmd("Sr"), mono, download("o", "2", make([]byte, monoPanelBytes)), cmd("Se"))
	tests := []struct {
		spec string
		in   []byte
		want []string
	}{
		{"jam=k", join(card, cmd("Rlr", "p"), cmd("Ss"), cmd("Ser"), cmd("Rlr", "p"), cmd("Ss")),
			[]string{"OK", "OK", "OK", "CARD JAM", "CARD JAM", "CARD", "CARD JAM", "OK", "OK", "OK"}},
		{"cover-open=o", join(card, cmd("Rse", "o"), cmd("Scs"), cmd("Rse", "o")),
			[]string{"OK", "OK", "OK", "OK", "COVER OPEN", "0,00 Volts", "OK", "5,00 Volts"}},
		{"feeder=0", join(cmd("Rse", "f"), cmd("Ss"), cmd("Si")), []string{"0,00 Volts", "FEEDER EMPTY", "FEEDER EMPTY"}},
		{"ribbon-out-after=0", join(cmd("Rr"), cmd("Rcr"), cmd("Ss")), []string{"YMCKO;0", "ERROR RIBBON", "ERROR RIBBON"}},
		{"need-cleaning-after=0", join(cmd("Ss"), cmd("Scp"), cmd("Ss")), []string{"NEED CLEANING", "OK", "OK"}},
		{"silent-after=1", join(cmd("Rtp"), cmd("Rtp"), cmd("Rsn"), cmd("Srs"), cmd("Rfv")), []string{"Evolis Primacy", "OK", "1.0.0-sim"}},
		{"garbage=1", join(cmd("Rtp"), cmd("Rtp"), cmd("Rfv")), []string{"Evolis Primacy", string(garbage[:len(garbage)-1]), "1.0.0-sim"}},
		{"drop=feed", join(card, cmd("Rtp")), []string{"OK", "OK"}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			d := New(Options{})
			if err := d.SetFault(tc.spec); err != nil {
				t.Fatal(err)
			}
			var got []string
			if tc.spec == "drop=feed" {
				got = converseErr(t, d, tc.in, ErrDropped)
				if !d.State().CardInside {
					t.Fatal("no card inside after a drop at the feed")
				}
			} else {
				got = converse(t, d, tc.in)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("replies\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseFaults(t *testing.T) {
	good := []string{
		"", "jam=y", "jam=eject@3", "ribbon-out-after=0", "ribbon-out=k@2", "cover-open=feed", "cover-open",
		"feeder=5", "silent-after=3", "drop=m@2", "garbage=1", "need-cleaning-after=10", "jam=y,jam=k@2,feeder=1",
	}
	for _, s := range good {
		f, err := ParseFaults(s)
		if err != nil {
			t.Errorf("ParseFaults(%q): %v", s, err)
			continue
		}
		if f.String() != s {
			t.Errorf("ParseFaults(%q).String() = %q", s, f.String())
		}
	}
	if f, err := ParseFaults("feeder-empty"); err != nil || f.Feeder == nil || *f.Feeder != 0 {
		t.Errorf("feeder-empty: %+v, %v", f, err)
	}
	bad := []string{"jam", "jam=q", "jam=y@0", "jam=y@x", "feeder=-1", "feeder", "silent-after=x", "melt=1", "feeder-empty=2", "garbage="}
	for _, s := range bad {
		if _, err := ParseFaults(s); err == nil {
			t.Errorf("ParseFaults(%q): no error", s)
		}
	}
}

// USB-facing state: device id and port status bits.
func TestDeviceIDAndPortStatus(t *testing.T) {
	d := New(Options{Serial: "SIM000042"})
	if got, want := d.DeviceID(), "MFG:Evolis;MDL:Primacy;CMD:EVOLIS;CLS:PRINTER;DES:Evolis Primacy;SN:SIM000042;"; got != want {
		t.Fatalf("DeviceID = %q, want %q", got, want)
	}
	if got := d.PortStatus(); got != PortNotError|PortSelected {
		t.Fatalf("idle port status %#x", got)
	}
	d.SetFeeder(0)
	d.SetCover(true)
	if got := d.PortStatus(); got != PortSelected|PortPaperEmpty {
		t.Fatalf("port status with cover open and no cards %#x", got)
	}
	d.SoftReset()
	d.SetFeeder(1)
	if got := d.PortStatus(); got != PortNotError|PortSelected {
		t.Fatalf("port status after reset %#x", got)
	}
}

// showsCardInside reports whether a driver status says a card is in the
// printer: not ready, and busy or jammed.
func showsCardInside(st drivers.Status) bool {
	return !st.Ready && (st.Busy || slices.Contains(st.Problems, drivers.CardJam))
}
