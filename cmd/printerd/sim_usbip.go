package main

import (
	"context"
	"errors"

	"github.com/cityid/printerd/drivers/sim"
)

// serveUSBIP serves dev as a USB printer-class device over USB/IP on addr.
// Owner: the USB work, which replaces this stub.
func serveUSBIP(ctx context.Context, dev *sim.Device, addr string) error {
	return errors.New("usbip: not built yet")
}
