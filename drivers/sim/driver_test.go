package sim

import (
	"context"
	"errors"
	"fmt"
	"image"
	"testing"
	"time"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/layout/panel"
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
			if info.Model != "Evolis Primacy" || info.Serial != d.Options().Serial || info.Ribbon != panel.YMCKO {
				t.Fatalf("info = %+v", info)
			}
			card := testCard("job-1", true)
			card.Mag = [3]string{"CITYID^TEST", "12345=678", ""}
			if err := p.Print(ctx, card); err != nil {
				t.Fatal(err)
			}
			cards := d.Cards()
			if len(cards) != 1 {
				t.Fatalf("%d cards printed, want 1", len(cards))
			}
			got := cards[0]
			if got.Label != "job-1" || got.Mag != card.Mag || got.Back == nil {
				t.Fatalf("card label %q mag %q back %v", got.Label, got.Mag, got.Back != nil)
			}
			comparePlanes(t, "front", card.Front, got.FrontPanels, tc.levels)
			comparePlanes(t, "back", *card.Back, *got.BackPanels, tc.levels)
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

// comparePlanes checks received panels against the design: K and O exact,
// Y, M and C within one level.
func comparePlanes(t *testing.T, side string, want, got panel.Side, levels int) {
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
				t.Errorf("%s %s: dot (%d,%d) = %d, want %d", side, pl.name, i%panel.Width, i/panel.Width, pl.got[i], pl.want[i])
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

var _ = errors.Is
var _ drivers.Code
