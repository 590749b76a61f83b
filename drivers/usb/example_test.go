package usb_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"time"

	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/usb"
)

// Open the USB printer with a given serial number, read its IEEE 1284
// device id, and drive it with the Evolis language.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, _ := url.Parse("usb://0f49:1234?serial=SIM0001")
	conn, err := usb.Open(ctx, u)
	if err != nil {
		log.Fatal(err) // e.g. drivers: open: offline: usb: no printer-class device matching ...
	}
	defer conn.Close()
	id, err := conn.DeviceID(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id)
	p := evolis.New(conn, evolis.Options{})
	st, err := p.Status(ctx)
	fmt.Println(st, err)
}

// List the USB printers, as printerd diag list does.
func ExampleList() {
	if ok, why := usb.HasBus(); !ok {
		fmt.Println(why)
		return
	}
	devs, err := usb.List(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range devs {
		fmt.Println(d.URI, d.Manufacturer, d.Product, d.Problem)
	}
}
