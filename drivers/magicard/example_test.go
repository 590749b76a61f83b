package magicard_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/tcp"
	"github.com/cityid/printerd/internal/sample"
)

// Print a card on a simulated Enduro (KGE layout) over TCP. The driver
// learns the layout from the model the printer reports.
func Example() {
	dev := sim.NewMagicard(sim.MagicardOptions{Layout: sim.MagicardKGE})
	srv, err := dev.ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	u, _ := url.Parse("tcp://" + srv.Addr())
	link, err := tcp.Open(context.Background(), u)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer link.Close()
	p := magicard.New(link, magicard.Options{})
	c, err := sample.ReadCard(filepath.Join("..", "..", sample.MunicipalCard))
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Label = "job-1"
	if err := p.Print(context.Background(), c); err != nil {
		fmt.Println(err)
		return
	}
	n, _ := p.Counters(context.Background())
	fmt.Println("printed:", n.Printed, "model:", dev.Options().Model)
	// Output: printed: 1 model: Enduro 3E
}

// The line layout follows the model name.
func ExampleLayoutForModel() {
	for _, m := range []string{"RioTango2D", "Enduro3E", "Rio Pro 360"} {
		l, err := magicard.LayoutForModel(m)
		fmt.Println(m, l, err != nil)
	}
	// Output:
	// RioTango2D kee false
	// Enduro3E kge false
	// Rio Pro 360  true
}
