package sim

import (
	"context"
	"errors"
	"fmt"
	"image"
	"testing"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
)

func newDriver(t *testing.T, d *Device, o evolis.Options) (*evolis.Printer, *Link) {
	t.Helper()
	l := d.Connect()
	t.Cleanup(func() { l.Close() })
	if o.ReplyTimeout == 0 {
		o.ReplyTimeout = 2 * time.Second
	}
	if o.MotionTimeout == 0 {
		o.MotionTimeout = 5 * time.Second
	}
	return evolis.New(l, o), l
}

// The real driver prints through the simulator: identity, status, and the
// card as designed, for every download form.
func TestDriverPrintsCard(t *testing.T) {
	for _, tc := range []struct {
		levels   int
		compress bool
		rotation int
	}{{32, false, 0}, {64, false, 0}, {128, false, 90}, {32, true, 0}, {64, true, 0}, {128, true, 270}} {
		t.Run(fmt.Sprintf("levels%d-compress%v-rot%d", tc.levels, tc.compress, tc.rotation), func(t *testing.T) {
			d := New(Options{Name: "t", Rotation: tc.rotation})
			p, _ := newDriver(t, d, evolis.Options{Levels: tc.levels, Compress: tc.compress, Rotation: tc.rotation})
			ctx := context.Background()
			info, err := p.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Model != "Evolis Primacy" || info.Serial != d.Options().Serial || info.Ribbon != card.YMCKO {
				t.Fatalf("info = %+v", info)
			}
			sent := testCard("job-1", true)
			sent.Mag = [3]string{"CITYID^TEST", "12345=678", ""}
			if err := p.Print(ctx, sent); err != nil {
				t.Fatal(err)
			}
			cards := d.Cards()
			if len(cards) != 1 {
				t.Fatalf("%d cards printed, want 1", len(cards))
			}
			got := cards[0]
			if got.Label != "job-1" || got.Mag != sent.Mag || got.Back == nil {
				t.Fatalf("card label %q mag %q back %v", got.Label, got.Mag, got.Back != nil)
			}
			comparePlanes(t, "front", sent.Front, got.FrontPanels, tc.levels)
			comparePlanes(t, "back", *sent.Back, *got.BackPanels, tc.levels)
			// K bar black; magenta area (x<300) has no green; cyan band (y<100) no red.
			if c := rgbAt(got.Front, 700, 530); c != [3]uint8{0, 0, 0} {
				t.Errorf("K bar pixel = %v, want black", c)
			}
			if c := rgbAt(got.Front, 100, 300); c[1] > 60 || c[0] < 250 {
				t.Errorf("magenta area pixel = %v, want red high, green low", c)
			}
			if c := rgbAt(got.Front, 500, 50); c[0] > 5 {
				t.Errorf("cyan band pixel = %v, want no red", c)
			}
			if c := rgbAt(got.Front, 1015, 647); c[2] > 5 {
				t.Errorf("yellow end pixel = %v, want no blue", c)
			}
			st, err := p.Status(ctx)
			if err != nil || !st.Ready || st.RibbonLeft != 298 {
				t.Fatalf("status %+v, %v; want ready with 298 sides left", st, err)
			}
			c, err := p.Counters(ctx)
			if err != nil || c.Printed != 1 || c.SinceCleaning != 1 {
				t.Fatalf("counters %+v, %v", c, err)
			}
		})
	}
}

// Every ribbon type, one- and two-sided: the panels the driver sends are
// the ones composited, and each side printed uses one set of ribbon panels.
func TestDriverRibbons(t *testing.T) {
	for _, tc := range []struct {
		ribbon card.Ribbon
		back   bool
		panels string // panels received on the front
	}{{card.K, false, "k"}, {card.KO, true, "ko"}, {card.YMCKO, false, "ymcko"}, {card.YMCKOK, true, "ymcko"}} {
		t.Run(fmt.Sprintf("%s-back%v", tc.ribbon, tc.back), func(t *testing.T) {
			d := New(Options{Ribbon: tc.ribbon, RibbonCards: 10, CleaningEvery: 2})
			p, _ := newDriver(t, d, evolis.Options{})
			c := testCard("r", tc.back)
			c.Ribbon = tc.ribbon
			ctx := context.Background()
			for i := 0; i < 2; i++ {
				if err := p.Print(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			got := d.Cards()[0]
			fp := got.FrontPanels
			received := ""
			for _, x := range []struct {
				n string
				p *image.Gray
			}{{"y", fp.Y}, {"m", fp.M}, {"c", fp.C}, {"k", fp.K}, {"o", fp.O}} {
				if x.p != nil {
					received += x.n
				}
			}
			if received != tc.panels {
				t.Errorf("front panels %q, want %q", received, tc.panels)
			}
			if (got.Back != nil) != tc.back {
				t.Errorf("back printed %v, want %v", got.Back != nil, tc.back)
			}
			sides := 2
			if tc.back {
				sides = 4
			}
			if st := d.State(); st.RibbonLeft != 10-sides {
				t.Errorf("ribbon left %d, want %d", st.RibbonLeft, 10-sides)
			}
			info, err := p.Info(ctx)
			if err != nil || info.Ribbon != tc.ribbon {
				t.Errorf("info ribbon %q, %v", info.Ribbon, err)
			}
			// Cleaning is due after two cards.
			if err := p.Print(ctx, c); !errors.Is(err, drivers.NeedsCleaning) || drivers.Fed(err) {
				t.Fatalf("third card: %v, want needs-cleaning before feed", err)
			}
			if err := p.Clean(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.Print(ctx, c); err != nil {
				t.Fatalf("after cleaning: %v", err)
			}
		})
	}
}

// comparePlanes checks received panels against the design: K and O exact,
// Y, M and C within one level.
func comparePlanes(t *testing.T, side string, want, got card.Side, levels int) {
	t.Helper()
	tol := 255/(levels-1) + 1
	for _, pl := range []struct {
		name      string
		want, got []byte
		tol       int
	}{
		{"y", want.Y.Pix, pix(got.Y), tol}, {"m", want.M.Pix, pix(got.M), tol}, {"c", want.C.Pix, pix(got.C), tol},
		{"k", want.K.Pix, pix(got.K), 0}, {"o", want.O.Pix, pix(got.O), 0},
	} {
		if pl.got == nil {
			t.Errorf("%s %s: panel not received", side, pl.name)
			continue
		}
		for i := range pl.want {
			if diff := int(pl.want[i]) - int(pl.got[i]); diff > pl.tol || -diff > pl.tol {
				t.Errorf("%s %s: dot (%d,%d) = %d, want %d", side, pl.name, i%card.Width, i/card.Width, pl.got[i], pl.want[i])
				break
			}
		}
	}
}

func pix(g interface{ Bounds() image.Rectangle }) []byte {
	if gg, ok := g.(*image.Gray); ok && gg != nil {
		return gg.Pix
	}
	return nil
}
