package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
)

// A simulated printer driven by the real Evolis driver over an in-process
// link, with a jam injected on the second card.
func Example() {
	dev := sim.New(sim.Options{Name: "front-desk"})
	if err := dev.SetFault("jam=k@2"); err != nil {
		panic(err)
	}
	link := dev.Connect()
	defer link.Close()
	p := evolis.New(link, evolis.Options{ReplyTimeout: 2 * time.Second})
	ctx := context.Background()

	c := card.Card{Label: "job-1", Ribbon: card.K, Front: card.Side{K: card.NewPlane()}}
	fmt.Println("first:", p.Print(ctx, c))
	c.Label = "job-2"
	err := p.Print(ctx, c)
	fmt.Println("second:", err != nil)
	fmt.Println("cards:", len(dev.Cards()), dev.Cards()[0].Label, "inside:", dev.State().CardInside)
	// Output:
	// first: <nil>
	// second: true
	// cards: 1 job-1 inside: true
}
