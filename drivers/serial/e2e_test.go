package serial_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/serial"
	"github.com/cityid/printerd/drivers/sim"
)

// rig is the whole serial path: the Evolis driver on a go.bug.st/serial
// port opened on a pseudo-terminal's slave, and the simulated printer
// serving the pty's master.
type rig struct {
	dev  *sim.Device
	port *serial.Port
	p    *evolis.Printer
}

// e2eOpts are driver options for the rig: time-outs short enough to keep
// silences cheap, long enough for a loaded 2-core machine.
var e2eOpts = evolis.Options{ReplyTimeout: 400 * time.Millisecond, MotionTimeout: 2 * time.Second, Quiet: 20 * time.Millisecond}

func newRig(t *testing.T, so sim.Options, do evolis.Options) *rig {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v (the end-to-end test needs /dev/ptmx and devpts)", err)
	}
	// slave stays open until the end: while some file holds the slave, the
	// master never reads EIO, so the driver can close and reopen the port
	// (its Reset) as a host reopens a real serial device.
	ctx, cancel := context.WithCancel(context.Background())
	port, err := serial.OpenPath(ctx, slave.Name(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		so.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		do.Logger = so.Logger
	}
	dev := sim.New(so)
	var wg sync.WaitGroup
	wg.Add(2)
	// The pty master is read by one pump for the whole test; each simulator
	// connection (Serve) gets its bytes through a pipe. After a drop fault
	// the cable is out for a while: what the host sends then is lost.
	var mu sync.Mutex
	pr, conn := io.Pipe() // the first connection, ready before any byte comes
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			if conn != nil {
				conn.Write(buf[:n])
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			err := dev.Serve(ctx, struct {
				io.Reader
				io.Writer
			}{pr, master})
			pr.Close() // unblocks the pump's write
			mu.Lock()
			conn = nil
			mu.Unlock()
			if errors.Is(err, sim.ErrDropped) {
				time.Sleep(do.ReplyTimeout + 100*time.Millisecond)
				var pw *io.PipeWriter
				pr, pw = io.Pipe()
				mu.Lock()
				conn = pw
				mu.Unlock()
				continue
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("sim Serve: %v", err)
			}
			return
		}
	}()
	t.Cleanup(func() {
		cancel()
		port.Close()
		master.Close()
		slave.Close()
		wg.Wait()
	})
	return &rig{dev: dev, port: port, p: evolis.New(port, do)}
}

// testCard returns a card for ribbon r with recognisable content on every
// panel: a gradient on Y, a block on M, stripes on C, a frame and a
// diagonal on K, O full.
func testCard(label string, r card.Ribbon) card.Card {
	c := card.Card{Label: label, Ribbon: r}
	set := func(p *image.Gray, on func(x, y int) uint8) *image.Gray {
		for y := 0; y < card.Height; y++ {
			for x := 0; x < card.Width; x++ {
				p.SetGray(x, y, color.Gray{Y: on(x, y)})
			}
		}
		return p
	}
	if r.Colour() {
		c.Front.Y = set(card.NewPlane(), func(x, y int) uint8 { return uint8(x * 255 / (card.Width - 1)) })
		c.Front.M = set(card.NewPlane(), func(x, y int) uint8 {
			if x > 100 && x < 400 && y > 100 && y < 500 {
				return 200
			}
			return 0
		})
		c.Front.C = set(card.NewPlane(), func(x, y int) uint8 { return uint8((y / 40 % 2) * 128) })
	}
	c.Front.K = set(card.NewPlane(), func(x, y int) uint8 {
		if x < 10 || y < 10 || x >= card.Width-10 || y >= card.Height-10 || x == y {
			return 255
		}
		return 0
	})
	if r.Overlay() {
		c.Front.O = set(card.NewPlane(), func(x, y int) uint8 { return 255 })
	}
	return c
}

func samePlane(t *testing.T, what string, got, want *image.Gray, tolerance int) {
	t.Helper()
	if got == nil || want == nil {
		t.Fatalf("%s: plane missing (got %v, want %v)", what, got != nil, want != nil)
	}
	if got.Bounds() != want.Bounds() {
		t.Fatalf("%s: bounds %v, want %v", what, got.Bounds(), want.Bounds())
	}
	for y := 0; y < card.Height; y++ {
		for x := 0; x < card.Width; x++ {
			d := int(got.GrayAt(x, y).Y) - int(want.GrayAt(x, y).Y)
			if d > tolerance || d < -tolerance {
				t.Fatalf("%s: dot (%d,%d) is %d, want %d (+-%d)", what, x, y, got.GrayAt(x, y).Y, want.GrayAt(x, y).Y, tolerance)
			}
		}
	}
}

func TestSerialEndToEnd(t *testing.T) {
	ctx := context.Background()
	for _, compress := range []bool{false, true} {
		do := e2eOpts
		do.Compress = compress
		r := newRig(t, sim.Options{Name: "e2e", Model: "Evolis Primacy", FeederCards: 10, RibbonCards: 50}, do)

		info, err := r.p.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Model != "Evolis Primacy" || info.Serial == "" || info.Firmware == "" || info.Ribbon != card.YMCKO {
			t.Fatalf("Info = %+v", info)
		}
		st, err := r.p.Status(ctx)
		if err != nil || !st.Ready || len(st.Problems) != 0 || st.RibbonLeft != 50 {
			t.Fatalf("Status = %+v, %v; want ready with 50 left", st, err)
		}

		// A two-sided YMCKO card with a magnetic stripe.
		c := testCard("job-e2e-1", card.YMCKO)
		c.Back = &card.Side{K: testCard("", card.K).Front.K}
		c.Mag = [3]string{"CITY ID TEST CARD", "0000123456=2512", ""}
		if err := r.p.Print(ctx, c); err != nil {
			t.Fatalf("compress=%v: Print: %v", compress, err)
		}
		// A KO card.
		if err := r.p.Print(ctx, testCard("job-e2e-2", card.KO)); err != nil {
			t.Fatalf("compress=%v: Print KO: %v", compress, err)
		}

		cards := r.dev.Cards()
		if len(cards) != 2 {
			t.Fatalf("compress=%v: simulator printed %d cards, want 2", compress, len(cards))
		}
		got := cards[0]
		// A serial link carries no labels (only in-process links do).
		if got.Mag != c.Mag || got.BackPanels == nil {
			t.Fatalf("compress=%v: card 1 has mag %q, back %v", compress, got.Mag, got.BackPanels != nil)
		}
		samePlane(t, "front K", got.FrontPanels.K, c.Front.K, 0)
		samePlane(t, "front O", got.FrontPanels.O, c.Front.O, 0)
		samePlane(t, "back K", got.BackPanels.K, c.Back.K, 0)
		// 32 levels: a level is 255/31 = 8.2 of the plane's 0..255.
		samePlane(t, "front Y", got.FrontPanels.Y, c.Front.Y, 5)
		samePlane(t, "front M", got.FrontPanels.M, c.Front.M, 5)
		samePlane(t, "front C", got.FrontPanels.C, c.Front.C, 5)
		if cards[1].FrontPanels.Y != nil || cards[1].FrontPanels.K == nil {
			t.Fatalf("compress=%v: KO card 2 has Y panel %v, K panel %v", compress, cards[1].FrontPanels.Y != nil, cards[1].FrontPanels.K != nil)
		}

		cnt, err := r.p.Counters(ctx)
		if err != nil || cnt.Printed != 2 {
			t.Fatalf("Counters = %+v, %v; want 2 printed", cnt, err)
		}
		st, err = r.p.Status(ctx)
		// Three card sides used of 50.
		if err != nil || !st.Ready || st.RibbonLeft != 47 {
			t.Fatalf("Status after printing = %+v, %v", st, err)
		}
	}
}

func TestSerialFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		faults string
		ribbon card.Ribbon
		code   drivers.Code
		feed   drivers.Feed
		// fed is what the simulator knows: cards taken from the feeder.
		fed int
		// problem is what Status shows afterwards (before any reset), or -1.
		problem drivers.Code
	}{
		{"ribbon-out-after=0", card.KO, drivers.RibbonOut, drivers.BeforeFeed, 0, drivers.RibbonOut},
		{"feeder-empty", card.KO, drivers.FeederEmpty, drivers.BeforeFeed, 0, drivers.FeederEmpty},
		{"cover-open", card.KO, drivers.CoverOpen, drivers.BeforeFeed, 0, drivers.CoverOpen},
		{"need-cleaning-after=0", card.KO, drivers.NeedsCleaning, drivers.BeforeFeed, 0, -1},
		{"silent-after=3", card.KO, drivers.Timeout, drivers.BeforeFeed, 0, -1},
		{"garbage=1", card.KO, drivers.Protocol, drivers.BeforeFeed, 0, -1},
		// The command that feeds (the first Db) failing is ambiguous to the
		// driver: the simulator fed the jammed card, not the one whose cover opened.
		{"jam=feed", card.KO, drivers.CardJam, drivers.FeedUnknown, 1, drivers.CardJam},
		{"cover-open=feed", card.KO, drivers.CoverOpen, drivers.FeedUnknown, 0, drivers.CoverOpen},
		{"jam=k", card.KO, drivers.CardJam, drivers.AfterFeed, 1, drivers.CardJam},
		{"jam=y", card.YMCKO, drivers.CardJam, drivers.AfterFeed, 1, drivers.CardJam},
		{"cover-open=m", card.YMCKO, drivers.CoverOpen, drivers.AfterFeed, 1, drivers.CoverOpen},
		{"ribbon-out=o", card.KO, drivers.RibbonOut, drivers.AfterFeed, 1, drivers.CardJam},
		{"jam=eject", card.KO, drivers.CardJam, drivers.AfterFeed, 1, drivers.CardJam},
		{"silent-after=5", card.KO, drivers.Timeout, drivers.AfterFeed, 1, -1},
		{"garbage=5", card.KO, drivers.Protocol, drivers.AfterFeed, 1, -1},
		{"drop=k", card.KO, drivers.Timeout, drivers.AfterFeed, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.faults, func(t *testing.T) {
			f, err := sim.ParseFaults(tt.faults)
			if err != nil {
				t.Fatal(err)
			}
			r := newRig(t, sim.Options{Name: "faults", Ribbon: tt.ribbon, Faults: f}, e2eOpts)
			err = r.p.Print(ctx, testCard("job-fault", tt.ribbon))
			var pe *drivers.Error
			if !errors.As(err, &pe) || pe.Code != tt.code || pe.Feed != tt.feed || !errors.Is(err, tt.code) {
				t.Fatalf("Print = %v, want code %v, feed %v", err, tt.code, tt.feed)
			}
			if got := r.dev.State().Fed; got != tt.fed {
				t.Errorf("simulator fed %d cards, want %d", got, tt.fed)
			}
			if tt.feed == drivers.BeforeFeed && r.dev.State().Fed != 0 {
				t.Errorf("driver said BeforeFeed but the simulator fed a card")
			}
			if tt.problem >= 0 {
				st, err := r.p.Status(ctx)
				if err != nil || st.Ready || !contains(st.Problems, tt.problem) {
					t.Errorf("Status after the fault = %+v, %v; want problem %v", st, err, tt.problem)
				}
			}
			// A technician's reset (Srs) clears it; the next card prints,
			// unless the fault is a state only an operator fixes.
			if err := r.p.Reset(ctx); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			switch tt.faults {
			case "ribbon-out-after=0", "feeder-empty", "need-cleaning-after=0", "ribbon-out=o":
				return
			}
			if err := r.p.Print(ctx, testCard("job-after", tt.ribbon)); err != nil {
				t.Fatalf("Print after reset: %v", err)
			}
			cards := r.dev.Cards()
			if len(cards) != 1 {
				t.Fatalf("simulator printed %d cards, want 1 (the card after the reset)", len(cards))
			}
		})
	}
}

func contains(cs []drivers.Code, c drivers.Code) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
