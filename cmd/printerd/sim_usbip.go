package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/usbip"
)

// serveUSBIP serves dev as a USB printer-class device over USB/IP on addr:
// a TCP address (127.0.0.1:3240) for `usbip attach -r 127.0.0.1 -b 1-1`,
// or "vhci" / "vhci:PORT" to attach it to this machine's own vhci-hcd
// directly (root, modprobe vhci-hcd).
func serveUSBIP(ctx context.Context, dev simPrinter, addr string) error {
	opts := dev.Options()
	cfg := usbip.Config{Serial: opts.Serial, Product: strings.TrimPrefix(opts.Model, "Evolis ")}
	if mc, ok := dev.(*sim.Magicard); ok {
		cfg.VendorID, cfg.ProductID, cfg.Manufacturer, cfg.Product = 0x0C1F, mc.USBProduct(), "Magicard", opts.Model
	}
	gadget := usbip.New(cfg, dev)
	defer gadget.Close()
	go gadget.Run(ctx, dev.Serve)
	cfg = gadget.Config()
	if port, ok := strings.CutPrefix(addr, "vhci"); ok {
		n := 0
		if p := strings.TrimPrefix(port, ":"); p != "" {
			var err error
			if n, err = strconv.Atoi(p); err != nil {
				return fmt.Errorf("--usbip %q: want vhci:PORT with a port number", addr)
			}
		}
		fmt.Fprintf(os.Stdout, "printerd sim: USB printer %04x:%04x serial %s attached to vhci-hcd port %d (usb://%04x:%04x?serial=%s)\n",
			cfg.VendorID, cfg.ProductID, cfg.Serial, n, cfg.VendorID, cfg.ProductID, cfg.Serial)
		return usbip.AttachVHCI(ctx, gadget, n, nil)
	}
	fmt.Fprintf(os.Stdout, "printerd sim: USB/IP on %s: sudo modprobe vhci-hcd && sudo usbip attach -r %s -b %s (then usb://%04x:%04x?serial=%s)\n",
		addr, hostOf(addr), cfg.BusID, cfg.VendorID, cfg.ProductID, cfg.Serial)
	return usbip.ListenAndServe(ctx, gadget, addr)
}

func hostOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return addr[:i]
	}
	return addr
}
