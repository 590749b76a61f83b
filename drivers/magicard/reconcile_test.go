package magicard_test

import (
	"context"
	"testing"

	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
)

// Probe and Reject on the simulated Magicard over TCP: the card counter
// moves with a printed card; a jam shows a card inside (an error raised
// with a card fed), which Reject sends to the reject tray; with no error
// the card position is unknown and Probe says so.
func TestProbeAndReject(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		fault  string
		print  bool // Print succeeds
		card   drivers.CardPosition
		inTray int
	}{
		{fault: "", print: true, card: drivers.CardUnknown},
		{fault: "jam=y", card: drivers.CardInside, inTray: 1},
		{fault: "feeder-empty", card: drivers.CardUnknown},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			f, _ := sim.ParseFaults(tc.fault)
			dev := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE, Options: sim.Options{Serial: "MCREC1", Faults: f}})
			p := magicard.New(openTCP(t, serveTCP(t, dev)), testOpts)
			pre, err := p.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pre.Serial != "MCREC1" || pre.Rejected != -1 || pre.Unsure == "" {
				t.Fatalf("pre-feed probe %+v: want the serial, no rejected counter (-1), and what it cannot tell", pre)
			}
			err = p.Print(ctx, municipal(t, "j"))
			if (err == nil) != tc.print {
				t.Fatalf("Print: %v", err)
			}
			post, err := p.Probe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := pre.Printed
			if tc.print {
				want++
			}
			if post.Printed != want || post.Card != tc.card {
				t.Fatalf("probe after the card: %+v, want printed %d, card %s", post, want, tc.card)
			}
			if tc.card == drivers.CardInside && (post.Error != drivers.CardJam.String() || post.ErrorFeed != drivers.AfterFeed) {
				t.Fatalf("probe after a jam: error %q feed %v, want card-jam after-feed", post.Error, post.ErrorFeed)
			}
			if tc.card == drivers.CardInside {
				if err := p.Reject(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st := dev.State()
			if st.CardInside || len(st.RejectTray) != tc.inTray {
				t.Fatalf("printer after reconciliation: %+v, want no card inside, %d in the reject tray", st, tc.inTray)
			}
		})
	}
}
