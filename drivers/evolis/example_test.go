package evolis_test

import (
	"context"
	"fmt"

	"github.com/cityid/printerd/card"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/sim"
)

// A driver on a link: here an in-process link to the simulated printer;
// cmd/printerd opens serial, USB or TCP links through drivers.Registry.
func Example() {
	ctx := context.Background()
	dev := sim.New(sim.Options{Model: "Evolis Primacy"})
	link := dev.Connect()
	defer link.Close()

	p := evolis.New(link, evolis.Options{Compress: true})
	info, err := p.Info(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Model)

	c := card.Card{Label: "job-0001", Ribbon: card.KO, Front: card.Side{K: card.NewPlane(), O: card.NewPlane()}}
	if err := p.Print(ctx, c); err != nil {
		// The queue decides between retry and hold with drivers.Fed.
		fmt.Println("failed; card spoiled:", drivers.Fed(err))
		return
	}
	fmt.Println("printed", dev.Cards()[0].Label)
	// Output:
	// Evolis Primacy
	// printed job-0001
}

// EncodeCard writes the command stream without a printer, as
// `printerd encode` does.
func ExampleEncodeCard() {
	c := card.Card{Ribbon: card.K, Front: card.Side{K: card.NewPlane()}}
	stream, err := evolis.EncodeCard(c, evolis.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Pem;2, Pr;k, Ss, Sr, one uncompressed K panel, Se and 64 NULs.
	fmt.Println(len(stream), evolis.MonoPanelBytes)
	fmt.Printf("%q\n", stream[:21])
	// Output:
	// 82394 82296
	// "\x1bPem;2\r\x1bPr;k\r\x1bSs\r\x1bSr\r"
}
