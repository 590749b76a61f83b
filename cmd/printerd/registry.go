package main

import (
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/serial"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/tcp"
	"github.com/cityid/printerd/drivers/usb"
)

// newRegistry returns the registry of printer transports and languages that
// printerd knows, filled explicitly (no init magic). Each transport or
// language is one line; sim:// and usb:// are added by their packages'
// owners.
func newRegistry() (*drivers.Registry, error) {
	r := &drivers.Registry{}
	for _, err := range []error{
		r.RegisterLanguage("evolis", evolis.Language),
		r.RegisterLanguage("magicard", magicard.Language),
		r.RegisterDetector(magicard.Detect),
		r.RegisterTransport("serial", serial.Open),
		r.RegisterTransport("tcp", tcp.Open),
		r.RegisterTransport("sim", sim.Transport),
		r.RegisterTransport("usb", usb.Transport),
	} {
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}
