package magicard_test

import (
	"context"
	"testing"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
)

// TestPrintBuiltInCard prints the built-in two-sided YMCKO card on a
// simulated Magicard of each line layout, over TCP and over the serial
// path (a pty), and checks that the simulator's own decoder reads back
// every panel sent, the overcoat rectangles included, and the magnetic
// tracks, and counts one card.
func TestPrintBuiltInCard(t *testing.T) {
	for _, layout := range []string{sim.MagicardKEE, sim.MagicardKGE} {
		for _, transport := range []string{"tcp", "pty"} {
			t.Run(layout+"/"+transport, func(t *testing.T) {
				dev := sim.NewMagicard(sim.MagicardOptions{Layout: layout, HeadPosition: 47})
				var link drivers.Link
				if transport == "tcp" {
					link = openTCP(t, serveTCP(t, dev))
				} else {
					link = servePty(t, dev)
				}
				p := magicard.New(link, testOpts)
				ctx := context.Background()
				info, err := p.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if info.Model != dev.Options().Model || info.Serial != dev.Options().Serial {
					t.Fatalf("Info = %+v, want the simulator's model %q and serial %q", info, dev.Options().Model, dev.Options().Serial)
				}
				cd := municipal(t, "job-1")
				cd.Mag = [3]string{"CITY ID^TEST CARD", "1234567890=2612", ""}
				if err := p.Print(ctx, cd); err != nil {
					t.Fatal(err)
				}
				cards := dev.Cards()
				if len(cards) != 1 {
					t.Fatalf("simulator printed %d cards, want 1", len(cards))
				}
				got := cards[0]
				if got.Back == nil || got.BackPanels == nil {
					t.Fatal("the card has no back")
				}
				if got.Mag != cd.Mag {
					t.Errorf("magnetic tracks written %q, want %q", got.Mag, cd.Mag)
				}
				checkSide(t, "front", got.FrontPanels, cd.Front)
				checkSide(t, "back", *got.BackPanels, *cd.Back)
				c, err := p.Counters(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if c.Printed != 1 {
					t.Fatalf("Counters.Printed = %d, want 1", c.Printed)
				}
				st := dev.State()
				if st.Position != sim.CardEjected || st.CardInside {
					t.Fatalf("card position %s, inside %v: want ejected", st.Position, st.CardInside)
				}
			})
		}
	}
}
