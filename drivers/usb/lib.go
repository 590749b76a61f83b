package usb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/gousb"
)

// lib is what this package needs from libusb. gousbLib is the real one;
// tests use a table of fake devices.
type lib interface {
	// hasBus reports whether the machine has a USB bus libusb can use,
	// and if not, why.
	hasBus() (bool, string)
	// newContext starts a libusb session. Every open makes its own so that
	// a device plugged in later is seen even without udev hotplug events.
	newContext() (libContext, error)
}

// libContext is one libusb session.
type libContext interface {
	// devices returns the descriptors of every device on the bus.
	devices() ([]*gousb.DeviceDesc, error)
	// open opens the device with the descriptor's bus and address.
	open(desc *gousb.DeviceDesc) (libDevice, error)
	close() error
}

// libDevice is an open device.
type libDevice interface {
	// strings reads the manufacturer, product and serial string descriptors;
	// missing ones are empty.
	strings() (manufacturer, product, serial string)
	setAutoDetach(on bool) error
	// claim selects configuration cfg, claims interface intf with
	// alternate setting alt, and opens the bulk endpoints (in may be 0 for
	// a unidirectional printer).
	claim(cfg, intf, alt, out, in int) (libInterface, error)
	// control runs a control transfer bounded by timeout.
	control(timeout time.Duration, rType, request uint8, val, idx uint16, data []byte) (int, error)
	close() error
}

// libInterface is a claimed interface with its bulk endpoints.
type libInterface interface {
	write(ctx context.Context, p []byte) (int, error)
	read(ctx context.Context, p []byte) (int, error)
	// maxPacket is the bulk IN endpoint's maximum packet size.
	maxPacket() int
	close()
}

// gousbLib is lib over github.com/google/gousb.
type gousbLib struct{}

func (gousbLib) hasBus() (bool, string) {
	for _, p := range []string{"/dev/bus/usb", "/proc/bus/usb"} {
		if _, err := os.Stat(p); err == nil {
			return true, ""
		}
	}
	if _, err := os.Stat("/sys/bus/usb/devices"); err != nil {
		return false, "no USB bus on this machine (/sys/bus/usb is missing: the kernel has no USB support loaded)"
	}
	return false, "no USB bus on this machine (/dev/bus/usb is missing)"
}

func (g gousbLib) newContext() (c libContext, err error) {
	if ok, why := g.hasBus(); !ok {
		return nil, errors.New(why)
	}
	// gousb panics when libusb_init fails; turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("libusb init failed: %v", r)
		}
	}()
	return &gousbContext{ctx: gousb.NewContext()}, nil
}

type gousbContext struct{ ctx *gousb.Context }

func (c *gousbContext) devices() ([]*gousb.DeviceDesc, error) {
	var descs []*gousb.DeviceDesc
	_, err := c.ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		descs = append(descs, d)
		return false
	})
	return descs, err
}

func (c *gousbContext) open(desc *gousb.DeviceDesc) (libDevice, error) {
	devs, err := c.ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		return d.Bus == desc.Bus && d.Address == desc.Address
	})
	for _, d := range devs[min(1, len(devs)):] {
		d.Close()
	}
	if len(devs) == 0 {
		if err == nil {
			err = gousb.ErrorNoDevice
		}
		return nil, err
	}
	return &gousbDevice{dev: devs[0]}, nil
}

func (c *gousbContext) close() error { return c.ctx.Close() }

type gousbDevice struct {
	dev *gousb.Device
}

func (d *gousbDevice) strings() (m, p, s string) {
	m, _ = d.dev.Manufacturer()
	p, _ = d.dev.Product()
	s, _ = d.dev.SerialNumber()
	return m, p, s
}

func (d *gousbDevice) setAutoDetach(on bool) error { return d.dev.SetAutoDetach(on) }

func (d *gousbDevice) claim(cfgNum, intf, alt, out, in int) (libInterface, error) {
	cfg, err := d.dev.Config(cfgNum)
	if err != nil {
		return nil, typed(err)
	}
	i, err := cfg.Interface(intf, alt)
	if err != nil {
		cfg.Close()
		return nil, typed(err)
	}
	gi := &gousbInterface{cfg: cfg, intf: i}
	if gi.out, err = i.OutEndpoint(out); err != nil {
		gi.close()
		return nil, err
	}
	if in != 0 {
		if gi.in, err = i.InEndpoint(in); err != nil {
			gi.close()
			return nil, err
		}
	}
	return gi, nil
}

func (d *gousbDevice) control(timeout time.Duration, rType, request uint8, val, idx uint16, data []byte) (int, error) {
	d.dev.ControlTimeout = timeout
	return d.dev.Control(rType, request, val, idx, data)
}

func (d *gousbDevice) close() error { return d.dev.Close() }

type gousbInterface struct {
	cfg  *gousb.Config
	intf *gousb.Interface
	out  *gousb.OutEndpoint
	in   *gousb.InEndpoint
}

func (i *gousbInterface) write(ctx context.Context, p []byte) (int, error) {
	return i.out.WriteContext(ctx, p)
}

func (i *gousbInterface) read(ctx context.Context, p []byte) (int, error) {
	if i.in == nil {
		return 0, errors.New("unidirectional printer: no bulk IN endpoint")
	}
	return i.in.ReadContext(ctx, p)
}

func (i *gousbInterface) maxPacket() int {
	if i.in == nil {
		return 512
	}
	return i.in.Desc.MaxPacketSize
}

func (i *gousbInterface) close() {
	i.intf.Close()
	i.cfg.Close()
}

// typed restores the libusb error code that gousb formats into some of its
// errors with %v, so that errors.Is works on them.
func typed(err error) error {
	for _, code := range []gousb.Error{gousb.ErrorBusy, gousb.ErrorAccess, gousb.ErrorNoDevice, gousb.ErrorNotFound} {
		if !errors.Is(err, code) && strings.Contains(err.Error(), code.Error()) {
			return fmt.Errorf("%w: %v", code, err)
		}
	}
	return err
}
