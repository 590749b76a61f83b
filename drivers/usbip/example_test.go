package usbip_test

import (
	"context"
	"log"

	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/usbip"
)

// A simulated printer served as a USB printer-class device on the usbip
// port, for `usbip attach -r 127.0.0.1 -b 1-1` (what printerd sim --usbip
// does).
func Example() {
	ctx := context.Background()
	printer := sim.New(sim.Options{Name: "desk", Serial: "SIM0001"})
	dev := usbip.New(usbip.Config{VendorID: 0x0f49, ProductID: 0x1234, Serial: "SIM0001"}, printer)
	defer dev.Close()
	go dev.Run(ctx, printer.Serve)
	if err := usbip.ListenAndServe(ctx, dev, "127.0.0.1:3240"); err != nil {
		log.Fatal(err)
	}
}
