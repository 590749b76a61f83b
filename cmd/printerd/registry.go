package main

import (
	"github.com/cityid/printerd/daemon"
	"github.com/cityid/printerd/drivers"
	"github.com/cityid/printerd/drivers/evolis"
	"github.com/cityid/printerd/drivers/magicard"
	"github.com/cityid/printerd/drivers/pcsc"
	"github.com/cityid/printerd/drivers/serial"
	"github.com/cityid/printerd/drivers/sim"
	"github.com/cityid/printerd/drivers/tcp"
	"github.com/cityid/printerd/drivers/usb"
)

// newRegistry returns the registry of printer transports and languages that
// printerd knows, filled explicitly (no init magic), one line each. sim://
// printers are the devices of sims, which the caller owns (a daemon, the
// demo or a test looks its simulated printers up there); nil makes a fresh,
// private one.
func newRegistry(sims *sim.Registry) (*drivers.Registry, error) {
	if sims == nil {
		sims = &sim.Registry{}
	}
	r := &drivers.Registry{}
	for _, err := range []error{
		// chip cards are encoded through pcscd at the printer's reader (reader=)
		r.RegisterLanguage("evolis", evolis.LanguageWith(pcsc.NewEncoder(pcsc.Options{}))),
		r.RegisterLanguage("magicard", magicard.Language),
		r.RegisterDetector(magicard.Detect),
		r.RegisterTransport("serial", serial.Open),
		r.RegisterTransport("tcp", tcp.Open),
		r.RegisterTransport("sim", sims.Transport),
		r.RegisterTransport("usb", usb.Transport),
		r.RegisterParams("", daemon.URIParams...),
		r.RegisterParams("evolis", evolis.Params...),
		r.RegisterParams("magicard", magicard.Params...),
		r.RegisterParams("serial", serial.Params...),
		r.RegisterParams("sim", sim.Params...),
		r.RegisterParams("usb", usb.Params...),
	} {
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}
